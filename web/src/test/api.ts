// The API as the tests see it: an MSW server (msw/node) that answers the
// requests the app makes, plus a log of those requests for assertions.
import { HttpResponse, http, type RequestHandler } from "msw";
import { setupServer } from "msw/node";
import type { ErrorCode, ErrorDetail, Placeholder } from "../api/models";

export interface RecordedRequest {
  method: string;
  url: URL;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

/** The envelope every API error uses. */
export function apiError(status: number, code: ErrorCode, message: string, details?: ErrorDetail[]) {
  return HttpResponse.json({ error: { code, message, ...(details ? { details } : {}) } }, { status });
}

export const placeholders: Placeholder[] = [
  { name: "first_name", label: "First name" },
  { name: "last_name", label: "Last name" },
  { name: "phone", label: "Phone" },
  { name: "location", label: "Location" },
  { name: "preferred_product", label: "Preferred product" },
];

/** Requests that no handler answered, reported by the test setup after each test. */
export const unhandled: string[] = [];

/** Answers every test gets unless it overrides them with `mockApi`. */
const defaults: RequestHandler[] = [
  http.get("/templates/placeholders", () => HttpResponse.json({ placeholders })),
  // Anything else fails loudly (and the test with it) instead of reaching the network.
  http.all("*", ({ request }) => {
    const { pathname } = new URL(request.url);
    unhandled.push(`${request.method} ${pathname}`);
    return HttpResponse.json({ error: { code: "UNMOCKED", message: `${request.method} ${pathname}` } }, { status: 599 });
  }),
];

export const server = setupServer(...defaults);

/**
 * Answer requests with `handlers` (MSW's `http.get(...)` etc.) for this test and
 * record every request the app makes; `to(method, path)` lists those to one path.
 */
export function mockApi(...handlers: RequestHandler[]) {
  const requests: RecordedRequest[] = [];
  const recorder = http.all("*", async ({ request }) => {
    const url = new URL(request.url);
    const text = await request.clone().text();
    requests.push({
      method: request.method,
      url,
      path: url.pathname,
      query: url.searchParams,
      headers: new Headers([...request.headers.entries()]),
      body: text ? JSON.parse(text) : undefined,
    });
    // No response: the request goes on to the handlers below.
  });
  server.use(recorder, ...handlers);
  return {
    requests,
    to: (method: string, path: string) => requests.filter((r) => r.method === method && r.path === path),
  };
}

/**
 * Answer multipart uploads to `path` with `answer`, and keep each request's form data.
 * mockApi's log reads a body as JSON, which a multipart body is not: call this after
 * mockApi, so that this handler answers before that log sees the request.
 */
export function mockUpload(path: string, answer: (form: FormData) => Response | Promise<Response>) {
  const forms: FormData[] = [];
  server.use(
    http.post(path, async ({ request }) => {
      const form = await request.formData();
      forms.push(form);
      return answer(form);
    }),
  );
  return { forms };
}

/**
 * An event stream at `path` that the test writes to: `progress(detail)` sends a
 * `progress` event, `end()` closes the stream as the server does after a final status.
 * `opened` counts connections; `open` says whether one is still being read (the page
 * closing it, as on unmount, cancels the body).
 */
export function mockEventStream(path: string) {
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  const state = { opened: 0, open: false };
  server.use(
    http.get(path, ({ request }) => {
      state.opened += 1;
      // The page closing the stream aborts its fetch.
      request.signal.addEventListener("abort", () => {
        state.open = false;
        controller = null;
      });
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          state.open = true;
        },
        cancel() {
          state.open = false;
          controller = null;
        },
      });
      return new HttpResponse(body, { headers: { "Content-Type": "text/event-stream; charset=utf-8" } });
    }),
  );
  const write = (text: string) => controller?.enqueue(encoder.encode(text));
  return {
    get opened() {
      return state.opened;
    },
    get open() {
      return state.open;
    },
    progress: (detail: unknown) => write(`event: progress\ndata: ${JSON.stringify(detail)}\n\n`),
    ping: () => write(": ping\n\n"),
    end: () => {
      controller?.close();
      controller = null;
      state.open = false;
    },
  };
}
