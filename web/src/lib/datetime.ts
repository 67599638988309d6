/** `datetime-local` value (local wall time, no zone) → ISO-8601 UTC with `Z`. */
export function localInputToIsoUtc(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
