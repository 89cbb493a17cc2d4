/*! supportbot safe markdown: the subset the knowledge base writes (paragraphs, headings, lists,
 * block quotes, code, rules, pipe tables, bold, italic, code spans, links), built as DOM nodes.
 * Untrusted text never goes through innerHTML; links keep only http(s) and mailto.
 * Shared by the widget (`/widget.js` serves this file and the widget in one block scope) and the
 * console (loaded before console.js): `supportbotMarkdown.render(text, base)` -> a fragment.
 */
const supportbotMarkdown = (() => {
  "use strict";
  const SAFE_PROTOCOLS = ["http:", "https:", "mailto:"];
  const MAX_CHARS = 20000;
  const MAX_COLUMNS = 12;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const name in attrs || {}) {
      if (attrs[name] != null) el.setAttribute(name, String(attrs[name]));
    }
    for (const child of children) if (child != null) el.append(child);
    return el;
  }
  function link(href, label) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label);
  }

  function safeHref(raw, base) {
    let href = String(raw).trim();
    if (!/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(href)) {
      if (!base) return null;
      href = href.replace(/\.md(?=$|#)/, ""); // a link between KB articles -> the served page
    }
    try {
      const url = new URL(href, base || undefined);
      return SAFE_PROTOCOLS.includes(url.protocol) ? url.href : null;
    } catch (_) {
      return null;
    }
  }
  function findClose(text, mark, from) {
    for (let j = text.indexOf(mark, from); j !== -1; j = text.indexOf(mark, j + 1)) {
      const before = text[j - 1], after = text[j + mark.length] || "";
      if (before === " " || (mark.length === 1 && (after === mark || before === mark))) continue;
      if (mark[0] === "_" && /\w/.test(after)) continue;
      return j;
    }
    return -1;
  }
  function parseLink(text, start) {
    let depth = 0, j = start;
    for (; j < text.length; j++) {
      if (text[j] === "\\") j++;
      else if (text[j] === "[") depth++;
      else if (text[j] === "]" && --depth === 0) break;
    }
    if (j >= text.length || text[j + 1] !== "(") return null;
    let k = j + 2;
    for (let parens = 1; k < text.length; k++) {
      if (text[k] === "(") parens++;
      else if (text[k] === ")" && --parens === 0) break;
    }
    if (k >= text.length) return null;
    const target = text.slice(j + 2, k).trim().split(/\s+/)[0].replace(/^<|>$/g, "");
    return { label: text.slice(start + 1, j), href: target, end: k + 1 };
  }
  function inline(text, base, depth, inLink) {
    const out = document.createDocumentFragment();
    let buffer = "";
    const flush = () => { if (buffer) out.append(buffer); buffer = ""; };
    for (let i = 0; i < text.length;) {
      const c = text[i];
      if (c === "\\" && /[!-/:-@[-`{-~]/.test(text[i + 1] || "")) {
        buffer += text[i + 1]; i += 2; continue;
      }
      if (c === "`") {
        let n = 1;
        while (text[i + n] === "`") n++;
        const end = text.indexOf("`".repeat(n), i + n);
        if (end !== -1) { flush(); out.append(h("code", null, text.slice(i + n, end))); i = end + n; continue; }
        buffer += "`".repeat(n); i += n; continue;
      }
      if ((c === "*" || c === "_") && depth < 4) {
        const mark = text[i + 1] === c ? c + c : c;
        const opens = !/\s/.test(text[i + mark.length] || " ") && !(c === "_" && /\w/.test(text[i - 1] || ""));
        const end = opens ? findClose(text, mark, i + mark.length) : -1;
        if (end > i + mark.length) {
          flush();
          const inner = inline(text.slice(i + mark.length, end), base, depth + 1, inLink);
          out.append(h(mark.length === 2 ? "strong" : "em", null, inner));
          i = end + mark.length; continue;
        }
        buffer += mark; i += mark.length; continue;
      }
      if (c === "[" && !inLink && depth < 4) {
        const found = parseLink(text, i);
        if (found) {
          flush();
          const href = safeHref(found.href, base);
          const label = inline(found.label, base, depth + 1, true);
          out.append(href ? link(href, label) : label);
          i = found.end; continue;
        }
      }
      if (c === "<" && !inLink) {
        const auto = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(text.slice(i, i + 2100));
        const href = auto && safeHref(auto[1]);
        if (href) { flush(); out.append(link(href, auto[1])); i += auto[0].length; continue; }
      }
      buffer += c; i++;
    }
    flush();
    return out;
  }

  // ---- Pipe tables (GitHub style): a header row, a delimiter row, body rows -------------
  const DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
  function cells(line) {
    let row = line.trim();
    if (row.startsWith("|")) row = row.slice(1);
    if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
    const out = [];
    let cell = "", code = false;
    for (let i = 0; i < row.length; i++) {
      const c = row[i];
      if (c === "\\" && row[i + 1] === "|") { cell += "|"; i++; continue; }
      if (c === "`") code = !code;
      if (c === "|" && !code) { out.push(cell.trim()); cell = ""; continue; }
      cell += c;
    }
    out.push(cell.trim());
    return out.slice(0, MAX_COLUMNS);
  }
  function isTableStart(lines, n) {
    return lines[n].includes("|") && n + 1 < lines.length && lines[n + 1].includes("-") &&
      DELIMITER.test(lines[n + 1]) && cells(lines[n]).length === cells(lines[n + 1]).length;
  }
  function table(lines, n, base) {
    const header = cells(lines[n]);
    const aligns = cells(lines[n + 1]).map((spec) =>
      spec.endsWith(":") ? (spec.startsWith(":") ? "center" : "right") : spec.startsWith(":") ? "left" : null);
    const row = (values, tag) => h("tr", null, ...header.map((_, i) =>
      h(tag, aligns[i] ? { class: "align-" + aligns[i] } : null, inline(values[i] || "", base, 0))));
    const body = h("tbody");
    let end = n + 2;
    for (; end < lines.length && lines[end].trim() && lines[end].includes("|"); end++) {
      body.append(row(cells(lines[end]), "td"));
    }
    const grid = h("table", null, h("thead", null, row(header, "th")), body);
    // A wide table scrolls inside its own box (keyboard too), never the whole panel.
    return { el: h("div", { class: "table-scroll", tabindex: "0", role: "group", "aria-label": "Table" }, grid), end };
  }

  // `breaks`: a single newline inside a paragraph is a line break (what a person typing a
  // reply means), not a space (what an article's wrapped source means).
  function render(source, base, { breaks = false } = {}) {
    const root = document.createDocumentFragment();
    const lines = String(source).slice(0, MAX_CHARS).replace(/\r\n?/g, "\n").split("\n");
    let paragraph = [], quote = [], lists = []; // lists: the open lists, outermost first
    const endParagraph = () => {
      if (!paragraph.length) return;
      const p = h("p");
      if (breaks) paragraph.forEach((text, i) => p.append(...(i ? [h("br")] : []), inline(text, base, 0)));
      else p.append(inline(paragraph.join(" "), base, 0));
      root.append(p);
      paragraph = [];
    };
    const endQuote = () => {
      if (quote.length) root.append(h("blockquote", null, inline(quote.join(" "), base, 0)));
      quote = [];
    };
    const endList = () => { if (lists.length) root.append(lists[0].el); lists = []; };
    const openList = (indent, ordered, start, parent) => {
      const el = h(ordered ? "ol" : "ul");
      if (ordered && start !== "1") el.setAttribute("start", String(parseInt(start, 10)));
      if (parent) parent.append(el);
      lists.push({ indent, ordered, el, item: null });
    };
    // An item indented past its list's item opens a list inside that item; less indented
    // closes the inner lists. The widget shows the KB's two-level lists as they are written.
    const listItem = (indent, ordered, start, text) => {
      while (lists.length > 1 && indent < lists[lists.length - 1].indent) lists.pop();
      let top = lists[lists.length - 1];
      if (top && top.item && indent >= top.indent + 2 && lists.length < 4) {
        openList(indent, ordered, start, top.item);
      } else if (top && top.ordered !== ordered) {
        if (lists.length === 1) { endList(); openList(indent, ordered, start, null); }
        else { lists.pop(); openList(indent, ordered, start, lists[lists.length - 1].item); }
      } else if (!top) {
        openList(indent, ordered, start, null);
      }
      top = lists[lists.length - 1];
      top.item = h("li", null, inline(text, base, 0));
      top.el.append(top.item);
    };
    const endAll = () => { endParagraph(); endQuote(); endList(); };
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n];
      let m;
      if ((m = /^ {0,3}(`{3,}|~{3,})/.exec(line))) {
        endAll();
        const code = [];
        while (++n < lines.length && !lines[n].trim().startsWith(m[1])) code.push(lines[n]);
        root.append(h("pre", null, h("code", null, code.join("\n"))));
      } else if (!line.trim()) {
        endAll();
      } else if (isTableStart(lines, n)) {
        endAll();
        const found = table(lines, n, base);
        root.append(found.el);
        n = found.end - 1;
      } else if ((m = /^ {0,3}#{1,6}\s+(.*?)[\s#]*$/.exec(line))) {
        endAll();
        root.append(h("p", { class: "heading" }, h("strong", null, inline(m[1], base, 0))));
      } else if (/^ {0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
        endAll();
        root.append(h("hr"));
      } else if ((m = /^ {0,3}>\s?(.*)$/.exec(line))) {
        endParagraph(); endList();
        quote.push(m[1]);
      } else if ((m = /^(\s*)(?:[-*+]|(\d{1,9})[.)])\s+(.*)$/.exec(line)) &&
                 (lists.length || m[1].length <= 3)) {
        endParagraph(); endQuote();
        listItem(m[1].replace(/\t/g, "    ").length, m[2] !== undefined, m[2], m[3]);
      } else if (lists.length && /^\s+\S/.test(line)) {
        lists[lists.length - 1].item.append(" ", inline(line.trim(), base, 0));
      } else {
        endList(); endQuote();
        paragraph.push(line.trim());
      }
    }
    endAll();
    return root;
  }

  return Object.freeze({ render, safeHref });
})();
