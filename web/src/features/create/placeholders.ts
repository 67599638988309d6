import type { Placeholder } from "../../api/models";

/** How a placeholder is written in a template. */
export function token(placeholder: Pick<Placeholder, "name">): string {
  return `{${placeholder.name}}`;
}

/** A chip showing the `{field|fallback}` form, offered when the API lists first_name. */
export const FALLBACK_EXAMPLE = { field: "first_name", token: "{first_name|there}" } as const;

/** Insert `text` over the current selection; returns the new value and caret position. */
export function insertAt(value: string, text: string, start: number, end: number) {
  const next = value.slice(0, start) + text + value.slice(end);
  return { value: next, caret: start + text.length };
}
