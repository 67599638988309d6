// The API client: openapi-fetch over the generated `paths`, so every path,
// parameter, body and response is checked against the API's OpenAPI document.
// Middleware adds what every call needs (JSON, the API key, a 401 dropping the key
// and bringing up the prompt, "unreachable" for network failures); `unwrap` turns an
// error answer into an ApiError so TanStack Query sees a rejected promise.
import createClient, { type Middleware } from "openapi-fetch";
import { getApiKey, rejectApiKey } from "./auth";
import type { ErrorCode, ErrorDetail } from "./models";
import type { paths } from "./schema";

const UNREACHABLE = "API_UNREACHABLE";
const UNREACHABLE_MESSAGE = "Can't reach the API. Check that the service is running.";

/**
 * The envelope's code, or one of ours: `API_UNREACHABLE` when the API did not
 * answer, `HTTP_<status>` when something else did (not the envelope).
 */
export type ApiErrorCode = ErrorCode | typeof UNREACHABLE | `HTTP_${number}`;

export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: ErrorDetail[];

  constructor(status: number, code: ApiErrorCode, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** No answer from the API itself: network failure, or a proxy's 502/503/504 page. */
  get isUnreachable() {
    return this.status === 0 || this.code === UNREACHABLE;
  }
}

/** Query strings leave out unset and empty values (an empty filter means "all"). */
export function serializeQuery(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  return params.toString();
}

const session: Middleware = {
  onRequest({ request }) {
    request.headers.set("Accept", "application/json");
    const apiKey = getApiKey();
    if (apiKey) request.headers.set("Authorization", `Bearer ${apiKey}`);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401) rejectApiKey(sentKey(request));
    return undefined;
  },
  onError({ error }) {
    // An aborted request (a query that is no longer needed) stays an AbortError.
    if (error instanceof DOMException && error.name === "AbortError") return undefined;
    return new ApiError(0, UNREACHABLE, UNREACHABLE_MESSAGE);
  },
};

function sentKey(request: Request): string | null {
  const authorization = request.headers.get("Authorization");
  return authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : null;
}

/**
 * Absolute API paths on the page's own origin: the API serves the dashboard,
 * and the dev server proxies the API's paths. (`location.origin` rather than
 * "" because a Request needs an absolute URL outside a browser, as in tests.)
 */
export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  querySerializer: serializeQuery,
  // Looked up per call, so whatever `fetch` is current (a test's mock) is used.
  fetch: (request) => globalThis.fetch(request),
});
api.use(session);

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful answer; any other answer becomes an ApiError. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response, error);
  return data as T;
}

/**
 * `body` is what openapi-fetch read: parsed JSON, or the raw text if it was not
 * JSON. Every error of the API is the envelope (`ErrorEnvelope` in the schema).
 */
function toApiError(response: Response, body: unknown): ApiError {
  const fallbackMessage =
    response.status >= 500
      ? `The API failed (${response.status}). Try again in a moment.`
      : `Request failed (${response.status}).`;

  if (isRecord(body) && isRecord(body.error)) {
    const { code, message, details } = body.error;
    return new ApiError(
      response.status,
      // The document lists the codes; a newer API may send one it doesn't, which still shows.
      typeof code === "string" ? (code as ErrorCode) : `HTTP_${response.status}`,
      typeof message === "string" ? message : fallbackMessage,
      Array.isArray(details) ? details.filter(isRecord).map(toDetail) : [],
    );
  }
  const isJson = isRecord(body) || Array.isArray(body);
  if (!isJson && [502, 503, 504].includes(response.status)) {
    // A proxy's page with no API behind it.
    return new ApiError(response.status, UNREACHABLE, UNREACHABLE_MESSAGE);
  }
  return new ApiError(response.status, `HTTP_${response.status}`, fallbackMessage);
}

function toDetail(d: Record<string, unknown>): ErrorDetail {
  return {
    field: typeof d.field === "string" ? d.field : null,
    message: typeof d.message === "string" ? d.message : "Invalid value",
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Human-readable message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
