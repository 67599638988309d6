import { ApiError } from "../api/client";
import { useReadiness } from "../api/queries";

/** Small header indicator fed by GET /ready. */
export function ApiStatus() {
  const { data, error, isPending } = useReadiness();
  let state: "ok" | "degraded" | "down" | "unknown" = "unknown";
  let label = "Checking API…";
  if (data?.status === "ok") {
    state = "ok";
    label = "API ready";
  } else if (data || (error instanceof ApiError && error.status === 503)) {
    state = "degraded";
    label = "API degraded";
  } else if (error instanceof ApiError && error.status === 401) {
    state = "degraded";
    label = "API key needed";
  } else if (error) {
    state = "down";
    label = "API unreachable";
  } else if (!isPending) {
    state = "unknown";
  }
  return (
    <span className={`api-status api-status--${state}`} role="status" title={label}>
      <span className="api-status__dot" aria-hidden="true" />
      <span className="api-status__label">{label}</span>
    </span>
  );
}
