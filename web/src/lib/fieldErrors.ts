import { ApiError } from "../api/client";

export type FieldErrors = Record<string, string>;

/**
 * Map a 422 envelope's details to form fields. Accepts `base_template` as
 * well as dotted locations such as `body.base_template` or `customer_ids.2`.
 */
export function fieldErrorsFrom(error: unknown, knownFields: readonly string[]): FieldErrors {
  if (!(error instanceof ApiError)) return {};
  const out: FieldErrors = {};
  for (const detail of error.details) {
    if (!detail.field) continue;
    const parts = detail.field.split(/[.[\]]/).filter(Boolean);
    const field = parts.reverse().find((part) => knownFields.includes(part));
    if (field && !out[field]) out[field] = detail.message;
  }
  return out;
}
