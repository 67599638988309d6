/** Customer fields a template can reference, as `{field}` or `{field|fallback}`. */
export const PLACEHOLDERS = [
  { token: "{first_name}", label: "First name" },
  { token: "{last_name}", label: "Last name" },
  { token: "{location}", label: "Location" },
  { token: "{preferred_product}", label: "Preferred product" },
  { token: "{phone}", label: "Phone" },
] as const;

export const FALLBACK_EXAMPLE = "{first_name|there}";

/** Insert `text` over the current selection; returns the new value and caret position. */
export function insertAt(value: string, text: string, start: number, end: number) {
  const next = value.slice(0, start) + text + value.slice(end);
  return { value: next, caret: start + text.length };
}
