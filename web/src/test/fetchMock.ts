import { vi } from "vitest";

export interface RecordedRequest {
  method: string;
  url: URL;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export type Handler = (req: RecordedRequest) => Response | Promise<Response>;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export function apiError(status: number, code: string, message: string, details?: unknown[]): Response {
  return json({ error: { code, message, ...(details ? { details } : {}) } }, status);
}

/**
 * Replace global fetch with a router of `"METHOD /path"` → handler.
 * Unmatched requests fail loudly with a 599 so tests notice.
 */
export function mockFetch(routes: Record<string, Handler>) {
  const requests: RecordedRequest[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://localhost");
    const method = (init?.method ?? "GET").toUpperCase();
    const rawBody = init?.body;
    const req: RecordedRequest = {
      method,
      url,
      path: url.pathname,
      query: url.searchParams,
      headers: new Headers(init?.headers),
      body: typeof rawBody === "string" ? JSON.parse(rawBody) : undefined,
    };
    requests.push(req);
    const handler = routes[`${method} ${url.pathname}`];
    if (!handler) return json({ error: { code: "UNMOCKED", message: `${method} ${url.pathname}` } }, 599);
    return handler(req);
  });
  vi.stubGlobal("fetch", fetchMock);
  return {
    requests,
    to: (method: string, path: string) => requests.filter((r) => r.method === method && r.path === path),
  };
}
