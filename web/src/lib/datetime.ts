/** `datetime-local` value (local wall time, no zone) → ISO-8601 UTC with `Z`. */
export function localInputToIsoUtc(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** ISO-8601 instant → `datetime-local` value in local wall time (minutes), "" for none. */
export function isoToLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Whether an ISO instant is at or before now (`now` for tests and repeatable renders). */
export function isPast(iso: string, now: number = Date.now()): boolean {
  const t = new Date(iso).getTime();
  return !Number.isNaN(t) && t <= now;
}
