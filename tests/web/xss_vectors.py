"""XSS filter-evasion vectors: a representative set from the OWASP XSS Filter Evasion Cheat
Sheet (https://cheatsheetseries.owasp.org/cheatsheets/XSS_Filter_Evasion_Cheat_Sheet.html),
plus markdown-link variants aimed at the widget's own renderer. Remote script URLs point at a
closed loopback port so nothing leaves the machine even if one were fetched.
"""

from __future__ import annotations

REMOTE = "http://127.0.0.1:9/xss.js"

OWASP_VECTORS = [
    # Polyglot
    "javascript:/*--></title></style></textarea></script></xmp>"
    "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    f"<SCRIPT SRC={REMOTE}></SCRIPT>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114'
    "&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116"
    '&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;"
    "&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72"
    "&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    f'<SCRIPT/XSS SRC="{REMOTE}"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    f"<SCRIPT SRC={REMOTE}?< B >",
    "<iframe src=http://127.0.0.1:9/scriptlet.html <",
    "\\\";alert('XSS');//",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<svg/onload=alert('XSS')>",
    "<BODY ONLOAD=alert('XSS')>",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://127.0.0.1:9/scriptlet.html"></OBJECT>',
    "<a href=\"&#x6A;avascript:alert('XSS')\">entity link</a>",
]

MARKDOWN_VECTORS = [
    "[click me](javascript:alert('XSS'))",
    "[click me](JaVaScRiPt:alert('XSS'))",
    "[spaced](  javascript:alert('XSS'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox('XSS'))",
    "[quote](https://ok.example\" onmouseover=\"alert('XSS'))",
    "![image](x\" onerror=\"alert('XSS'))",
    "<javascript:alert('XSS')>",
    "**bold <img src=x onerror=alert('XSS')>** and `<script>alert('XSS')</script>`",
]

VECTORS = OWASP_VECTORS + MARKDOWN_VECTORS
