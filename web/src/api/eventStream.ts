// Server-sent events read with fetch, for `GET /campaigns/{id}/events`.
//
// The browser's EventSource cannot send headers, and the API takes its key only in a
// header (never in the URL, where it would land in logs and history), so the stream is
// read from a fetch body instead: the same `Authorization: Bearer` header the generated
// client sends, the same 401 handling (the key is dropped and the prompt asks again),
// and the same ApiError for an error answer. The body is parsed as EventSource parses
// it: `field: value` lines, an event per blank line, `:` comments (the server's pings).
// It does not reconnect by itself: the caller decides, from how the stream ended.
import { getApiKey, rejectApiKey } from "./auth";
import { ApiError } from "./client";
import type { CampaignDetail, ErrorCode } from "./models";

export interface ServerSentEvent {
  /** The `event:` field; "message" when the event has none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The last `id:` seen so far in the stream (ids carry over to later events). */
  id: string;
}

/**
 * How a stream ended: the server closed it (`closed`), `close()` was called or the
 * signal aborted (`aborted`), or it failed (`error`, after `onError`).
 */
export type StreamEnd = "closed" | "aborted" | "error";

export interface EventStreamOptions {
  onEvent: (event: ServerSentEvent) => void;
  /** The answer was an event stream: events follow. */
  onOpen?: () => void;
  /** A comment line's text (after the colon): the server's heartbeat. */
  onComment?: (text: string) => void;
  /** An error answer (its envelope as an ApiError), no answer, or a broken stream. */
  onError?: (error: ApiError) => void;
  /** Aborting it closes the stream, as `close()` does. */
  signal?: AbortSignal;
}

export interface EventStream {
  /** Stop reading and drop the connection; no error is reported. */
  close: () => void;
  /** Settles (never rejects) once the stream has ended, with how it ended. */
  done: Promise<StreamEnd>;
}

const UNREACHABLE_MESSAGE = "Can't reach the API. Check that the service is running.";
const INTERRUPTED_MESSAGE = "The connection to the API was interrupted.";

/** Open the event stream at `path` (an absolute API path such as `/campaigns/1/events`). */
export function openEventStream(path: string, options: EventStreamOptions): EventStream {
  const controller = new AbortController();
  const { signal } = options;
  if (signal) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener("abort", () => controller.abort(), { once: true });
  }
  const done = read(path, options, controller.signal);
  return { close: () => controller.abort(), done };
}

async function read(path: string, options: EventStreamOptions, signal: AbortSignal): Promise<StreamEnd> {
  const fail = (error: ApiError): StreamEnd => {
    if (signal.aborted) return "aborted";
    options.onError?.(error);
    return "error";
  };
  const apiKey = getApiKey();
  const headers = new Headers({ Accept: "text/event-stream" });
  if (apiKey) headers.set("Authorization", `Bearer ${apiKey}`);

  let response: Response;
  try {
    // `location.origin` as in the client: a Request needs an absolute URL outside a page.
    response = await globalThis.fetch(`${globalThis.location?.origin ?? ""}${path}`, {
      headers,
      signal,
      cache: "no-store",
    });
  } catch {
    return fail(new ApiError(0, "API_UNREACHABLE", UNREACHABLE_MESSAGE));
  }
  if (!response.ok) {
    if (response.status === 401) rejectApiKey(apiKey);
    return fail(await errorOf(response));
  }
  const contentType = response.headers.get("Content-Type") ?? "";
  if (!contentType.toLowerCase().startsWith("text/event-stream") || !response.body) {
    void response.body?.cancel().catch(() => undefined);
    return fail(new ApiError(response.status, `HTTP_${response.status}`, "The API did not answer with an event stream."));
  }

  options.onOpen?.();
  const reader = response.body.getReader();
  const decoder = new TextDecoder(); // UTF-8; a character split across chunks is kept for the next
  // Nothing more reaches the handlers once one of them has called close().
  const parser = new EventStreamParser(
    (event) => signal.aborted || options.onEvent(event),
    (text) => signal.aborted || options.onComment?.(text),
  );
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (signal.aborted) break; // a handler called close()
    }
  } catch {
    return fail(new ApiError(0, "API_UNREACHABLE", INTERRUPTED_MESSAGE));
  } finally {
    reader.releaseLock();
  }
  if (signal.aborted) return "aborted";
  parser.feed(decoder.decode());
  return "closed";
}

async function errorOf(response: Response): Promise<ApiError> {
  const fallback =
    response.status >= 500
      ? `The API failed (${response.status}). Try again in a moment.`
      : `Request failed (${response.status}).`;
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: not the envelope (a proxy's page).
  }
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  if (error && typeof error.code === "string") {
    return new ApiError(
      response.status,
      error.code as ErrorCode,
      typeof error.message === "string" ? error.message : fallback,
    );
  }
  if (!error && [502, 503, 504].includes(response.status)) {
    return new ApiError(response.status, "API_UNREACHABLE", UNREACHABLE_MESSAGE);
  }
  return new ApiError(response.status, `HTTP_${response.status}`, fallback);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The event-stream format, fed text as it arrives. Lines end with CRLF, LF or CR (a CRLF
 * split between two chunks is one line end); a leading byte-order mark is dropped; an
 * event without data is not dispatched, nor is one the stream ends before its blank line.
 */
export class EventStreamParser {
  private line = "";
  private afterCR = false;
  private started = false;
  private eventType = "";
  private data: string[] = [];
  private lastEventId = "";

  constructor(
    private readonly onEvent: (event: ServerSentEvent) => void,
    private readonly onComment?: (text: string) => void,
  ) {}

  feed(text: string) {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.startsWith("\uFEFF")) text = text.slice(1);
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const char = text[i];
      if (char === "\n" && this.afterCR && i === start) {
        // The LF of a CRLF whose CR ended the previous line.
        this.afterCR = false;
        start = i + 1;
        continue;
      }
      this.afterCR = false;
      if (char === "\r" || char === "\n") {
        this.processLine(this.line + text.slice(start, i));
        this.line = "";
        this.afterCR = char === "\r";
        start = i + 1;
      }
    }
    this.line += text.slice(start);
  }

  private processLine(line: string) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) {
      this.onComment?.(line.slice(1).replace(/^ /, ""));
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      default:
        // `retry` is a reconnection delay for EventSource; this reader does not reconnect.
        break;
    }
  }

  private dispatch() {
    const eventType = this.eventType || "message";
    this.eventType = "";
    if (this.data.length === 0) return;
    const data = this.data.join("\n");
    this.data = [];
    this.onEvent({ event: eventType, data, id: this.lastEventId });
  }
}

export interface CampaignProgressOptions {
  /** The campaign's detail, as `GET /campaigns/{id}` returns it: on connect and on each change. */
  onProgress: (campaign: CampaignDetail) => void;
  onError?: (error: ApiError) => void;
  signal?: AbortSignal;
}

/**
 * Follow a campaign's progress. The stream ends by itself (`done` is "closed") once the
 * campaign is sent, failed or cancelled, after the detail with that status.
 */
export function watchCampaignProgress(campaignId: number, options: CampaignProgressOptions): EventStream {
  const stream: EventStream = openEventStream(`/campaigns/${campaignId}/events`, {
    signal: options.signal,
    onError: options.onError,
    onEvent: (event) => {
      if (event.event !== "progress") return; // a later API may send others
      let campaign: CampaignDetail;
      try {
        campaign = JSON.parse(event.data) as CampaignDetail;
      } catch {
        stream.close();
        options.onError?.(new ApiError(200, "HTTP_200", "The API sent a progress event that is not JSON."));
        return;
      }
      options.onProgress(campaign);
    },
  });
  return stream;
}
