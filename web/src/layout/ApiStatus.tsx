import { ApiError } from "../api/client";
import { useReadiness } from "../api/queries";
import type { Readiness } from "../api/models";

type State = "ok" | "degraded" | "down" | "unknown";

function describe(data: Readiness | undefined, error: unknown): [State, string] {
  // A failed refetch keeps the last data, so the error wins.
  if (error instanceof ApiError) {
    if (error.isUnreachable) return ["down", "API unreachable"];
    if (error.status === 401) return ["degraded", "API key needed"];
    if (error.status === 503) return ["degraded", "API degraded"];
    return ["down", "API error"];
  }
  if (error) return ["down", "API unreachable"];
  if (data) return data.status === "ok" ? ["ok", "API ready"] : ["degraded", "API degraded"];
  return ["unknown", "Checking API…"];
}

/** Small header indicator fed by GET /ready. */
export function ApiStatus() {
  const { data, error } = useReadiness();
  const [state, label] = describe(data, error);
  return (
    <span className={`api-status api-status--${state}`} role="status" title={label}>
      <span className="api-status__dot" aria-hidden="true" />
      <span className="api-status__label">{label}</span>
    </span>
  );
}
