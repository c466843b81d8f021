/**
 * Text put into the Markdown opsrail writes for people (reports, digests, tickets): one place for
 * how a cell or list item is made safe.
 */

/** One line of text, for a report: whitespace collapsed, at most `max` characters. */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Text inside a Markdown table cell or list item: no pipes, no HTML, no line breaks. */
export function mdText(text: string): string {
  return oneLine(text)
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
