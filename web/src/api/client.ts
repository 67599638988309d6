// Thin fetch wrapper: absolute API paths (the dashboard is served by the API
// itself), JSON in/out, the error envelope turned into ApiError.
import { getApiKey, markAuthRequired } from "./auth";

export interface ErrorDetail {
  field?: string | null;
  message: string;
}

const UNREACHABLE = "API_UNREACHABLE";
const UNREACHABLE_MESSAGE = "Can't reach the API. Check that the service is running.";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];

  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
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

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  query?: object;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function buildUrl(path: string, query?: object): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query) as [string, QueryValue][]) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  const apiKey = getApiKey();
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }

  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, UNREACHABLE, UNREACHABLE_MESSAGE);
  }

  if (response.status === 401) markAuthRequired();
  if (!response.ok) throw await toApiError(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

async function toApiError(response: Response): Promise<ApiError> {
  let payload: unknown = null;
  try {
    payload = await response.json();
  } catch {
    // Not JSON (e.g. a proxy error page).
  }
  const fallbackMessage =
    response.status >= 500
      ? `The API failed (${response.status}). Try again in a moment.`
      : `Request failed (${response.status}).`;

  if (isRecord(payload) && isRecord(payload.error)) {
    const { code, message, details } = payload.error;
    return new ApiError(
      response.status,
      typeof code === "string" ? code : `HTTP_${response.status}`,
      typeof message === "string" ? message : fallbackMessage,
      Array.isArray(details) ? details.filter(isRecord).map(toDetail) : [],
    );
  }
  // FastAPI's default shape, in case an error escapes the envelope.
  if (isRecord(payload) && "detail" in payload) {
    const detail = payload.detail;
    if (typeof detail === "string") {
      return new ApiError(response.status, `HTTP_${response.status}`, detail);
    }
    if (Array.isArray(detail)) {
      const details = detail.filter(isRecord).map((d) => ({
        field: Array.isArray(d.loc) ? String(d.loc[d.loc.length - 1]) : null,
        message: typeof d.msg === "string" ? d.msg : "Invalid value",
      }));
      return new ApiError(response.status, "VALIDATION_ERROR", "Some fields are invalid.", details);
    }
  }
  if (payload === null && [502, 503, 504].includes(response.status)) {
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
