"""Accessibility basics checked inside the page itself, from what Chromium actually renders.

`problems(page)` runs one small script in the page and returns what it found, one readable line
per problem; an accessible page gives an empty list. It covers what an automatic check can
decide alone: names of form controls and links, image alternatives, the heading outline, the
page's language, and text contrast computed from the rendered colours (WCAG 2.1 AA).
"""

from __future__ import annotations

from playwright.sync_api import Page

# WCAG 2.1 1.4.3: normal text needs 4.5:1; large text (24 px, or 18.66 px bold) needs 3:1.
CHECK_PAGE_JS = r"""
() => {
  const problems = [];
  const say = (el) => {
    const id = el.id ? "#" + el.id : "";
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return `<${el.tagName.toLowerCase()}${id}>` + (text ? ` "${text}"` : "");
  };
  const rendered = (el) => {
    if (el.closest("[hidden]")) return false;
    const style = getComputedStyle(el);
    return style.display !== "none" && style.visibility !== "hidden"
      && el.getClientRects().length > 0;
  };
  const textOf = (el) => (el ? (el.textContent || "").trim() : "");

  // The page's language, for screen readers' pronunciation.
  if (!(document.documentElement.getAttribute("lang") || "").trim()) {
    problems.push("html has no lang attribute");
  }

  // Every form control and button has an accessible name.
  const named = (el) => {
    const labelledby = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    if (labelledby.some((id) => textOf(document.getElementById(id)))) return true;
    if ((el.getAttribute("aria-label") || "").trim()) return true;
    if (el.id && [...document.querySelectorAll("label[for]")].some(
      (l) => l.htmlFor === el.id && textOf(l))) return true;
    if (textOf(el.closest("label"))) return true;
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (el.tagName === "INPUT" && ["submit", "reset", "button"].includes(type)) {
      return Boolean((el.value || "").trim()) || type !== "button";
    }
    if (el.tagName === "INPUT" && type === "image") return Boolean(el.getAttribute("alt"));
    if (el.tagName === "BUTTON" || el.tagName === "A") {
      return Boolean(textOf(el)) || [...el.querySelectorAll("img[alt]")].some((i) => i.alt.trim());
    }
    return false;
  };
  const controls = "input:not([type=hidden]), select, textarea, button, a[href]";
  for (const el of document.querySelectorAll(controls)) {
    if (!named(el)) problems.push(`no accessible name: ${say(el)}`);
  }

  // Images say what they show, or alt="" when decorative.
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`image without alt: ${img.getAttribute("src")}`);
  }

  // One h1, then headings that never skip a level on the way down.
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].filter(rendered);
  const h1s = headings.filter((h) => h.tagName === "H1").length;
  if (h1s !== 1) problems.push(`expected exactly one h1, found ${h1s}`);
  let previous = 0;
  for (const h of headings) {
    const level = Number(h.tagName[1]);
    if (level > previous + 1) problems.push(`heading skips from h${previous} to ${say(h)}`);
    previous = level;
  }

  // Text contrast against the effective background, composited up the ancestors.
  const parse = (colour) => {
    const m = colour.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [r, g, b, Number.isNaN(a) || a === undefined ? 1 : a];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage !== "none") return null;
      const colour = parse(style.backgroundColor);
      if (colour && colour[3] > 0) layers.push(colour);
      if (colour && colour[3] >= 1) break;
    }
    // Chromium paints a white canvas under a page that sets no background of its own.
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const opacity = (el) => {
    let value = 1;
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      value *= Number(getComputedStyle(node).opacity);
    }
    return value;
  };
  const luminance = ([r, g, b]) => {
    const linear = (c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const hex = (c) => "#" + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0"))
    .join("");
  for (const el of document.body ? document.body.querySelectorAll("*") : []) {
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText || !rendered(el)) continue;
    const style = getComputedStyle(el);
    const back = background(el);
    const fore = parse(style.color);
    if (!back || !fore) continue;  // a background image: no colour to compare with
    const text = over([fore[0], fore[1], fore[2], fore[3] * opacity(el)], back);
    const [light, dark] = [luminance(text), luminance(back)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      problems.push(`contrast ${ratio.toFixed(2)}:1 < ${needed}:1 for ${say(el)} `
        + `(${hex(text)} on ${hex(back)})`);
    }
  }
  return problems;
}
"""


def problems(page: Page) -> list[str]:
    """What keeps the page's current document from the basics, one line each; [] when none."""
    found: list[str] = page.evaluate(CHECK_PAGE_JS)
    return found


def assert_accessible(page: Page) -> None:
    """Fail with every problem listed, naming the page they were found on."""
    found = problems(page)
    assert not found, f"{page.url}:\n" + "\n".join(found)
