/**
 * Helpers for the README tables generated from code (the CLI and configuration references): cell
 * escaping and replacing the text between two HTML comment markers.
 */

/** Text safe inside a table cell: pipes escaped, line breaks folded. */
export const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/**
 * Cell text that may hold `code spans`: outside them `<` is escaped, since `<uuid>` would otherwise
 * be read as an HTML tag; inside them it must stay, as an entity would show literally.
 */
export const prose = (text: string): string =>
  cell(text).split('`').map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;') : part)).join('`');

/** `text` with what lies between the two markers replaced by `body`; throws when a marker is missing. */
export function replaceBetween(text: string, start: string, end: string, body: string, what: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md needs the markers ${start} and ${end} around the ${what}`);
  return `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`;
}
