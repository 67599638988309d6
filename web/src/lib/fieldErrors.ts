import { ApiError } from "../api/client";

export type FieldErrors = Record<string, string>;

/**
 * Map a 422 envelope's details to form fields. Accepts `base_template` as
 * well as dotted locations such as `body.base_template` or `customer_ids.2`.
 *
 * A known field may itself be dotted (`whatsapp_template.name`, `send_window`): the
 * most specific one whose parts appear in a row in the location wins, so
 * `body.whatsapp_template.name` is the template's name, not the campaign's `name`,
 * and `send_window.start` falls back to `send_window` when only that is known.
 */
export function fieldErrorsFrom(error: unknown, knownFields: readonly string[]): FieldErrors {
  if (!(error instanceof ApiError)) return {};
  const out: FieldErrors = {};
  const known = knownFields.map((field) => ({ field, parts: field.split(".") }));
  for (const detail of error.details) {
    if (!detail.field) continue;
    const parts = detail.field.split(/[.[\]]/).filter(Boolean);
    let best: { field: string; length: number; at: number } | null = null;
    for (const candidate of known) {
      const at = lastIndexOfRun(parts, candidate.parts);
      if (at < 0) continue;
      const length = candidate.parts.length;
      if (!best || length > best.length || (length === best.length && at > best.at)) {
        best = { field: candidate.field, length, at };
      }
    }
    if (best && !out[best.field]) out[best.field] = detail.message;
  }
  return out;
}

/** Where `run` last appears as consecutive items of `parts`, or -1. */
function lastIndexOfRun(parts: readonly string[], run: readonly string[]): number {
  for (let at = parts.length - run.length; at >= 0; at--) {
    if (run.every((part, i) => parts[at + i] === part)) return at;
  }
  return -1;
}
