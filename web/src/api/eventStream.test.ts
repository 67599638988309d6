import { afterEach, describe, expect, it, vi } from "vitest";
import { getApiKey, setApiKey } from "./auth";
import { ApiError } from "./client";
import {
  EventStreamParser,
  type ServerSentEvent,
  openEventStream,
  watchCampaignProgress,
} from "./eventStream";
import { campaignDetail } from "../test/factories";

/** A fetch whose answer is an event stream the test writes to, chunk by chunk. */
function streamingFetch(init: ResponseInit = {}) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  const encoder = new TextEncoder();
  const requests: { url: string; headers: Headers; signal: AbortSignal }[] = [];
  const fetch = vi.fn((url: string, options: RequestInit) => {
    const signal = options.signal!;
    requests.push({ url, headers: new Headers(options.headers), signal });
    // As a real fetch does: aborting fails the body being read.
    signal.addEventListener("abort", () => {
      try {
        controller.error(new DOMException("The operation was aborted.", "AbortError"));
      } catch {
        // Already closed.
      }
    });
    return Promise.resolve(
      new Response(body, { headers: { "Content-Type": "text/event-stream; charset=utf-8" }, ...init }),
    );
  });
  vi.stubGlobal("fetch", fetch);
  return {
    requests,
    push: (chunk: string | Uint8Array) =>
      controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk),
    end: () => controller.close(),
    fail: () => controller.error(new TypeError("network error")),
    get cancelled() {
      return cancelled;
    },
  };
}

function answer(response: Response) {
  vi.stubGlobal(
    "fetch",
    vi.fn(() => Promise.resolve(response)),
  );
}

function parse(...chunks: string[]) {
  const events: ServerSentEvent[] = [];
  const comments: string[] = [];
  const parser = new EventStreamParser(
    (event) => events.push(event),
    (text) => comments.push(text),
  );
  for (const chunk of chunks) parser.feed(chunk);
  return { events, comments };
}

/** Let the reader take what was pushed. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  vi.restoreAllMocks();
});

describe("EventStreamParser", () => {
  it("dispatches an event per blank line, with its type, data and id", () => {
    const { events } = parse('event: progress\ndata: {"a":1}\n\ndata: plain\nid: 7\n\n');
    expect(events).toEqual([
      { event: "progress", data: '{"a":1}', id: "" },
      { event: "message", data: "plain", id: "7" },
    ]);
  });

  it("joins data lines with newlines and strips one space after the colon only", () => {
    const { events } = parse("data:no space\ndata:  two spaces\ndata\n\n");
    expect(events).toEqual([{ event: "message", data: "no space\n two spaces\n", id: "" }]);
  });

  it("treats lines starting with a colon as comments (the server's pings)", () => {
    const { events, comments } = parse(": ping - 2026-12-02 10:00:00\n\n:\ndata: x\n\n");
    expect(comments).toEqual(["ping - 2026-12-02 10:00:00", ""]);
    expect(events).toEqual([{ event: "message", data: "x", id: "" }]);
  });

  it("accepts CRLF, CR and LF line ends, and a CRLF split between chunks", () => {
    const { events } = parse("event: a\r\ndata: 1\r\n\r", "\nevent: b\rdata: 2\r\rdata: 3\n", "\n");
    expect(events.map((e) => [e.event, e.data])).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["message", "3"],
    ]);
  });

  it("reassembles lines and events split anywhere between chunks", () => {
    const text = 'event: progress\ndata: {"status":"sending"}\n\nevent: progress\ndata: {"status":"sent"}\n\n';
    const { events } = parse(...text.split(""));
    expect(events.map((e) => JSON.parse(e.data) as unknown)).toEqual([{ status: "sending" }, { status: "sent" }]);
  });

  it("keeps the last id for later events, ignores an id with NUL, unknown fields and retry", () => {
    const { events } = parse("id: 1\ndata: a\n\ndata: b\n\nid: x\0y\nretry: 10\nfoo: bar\ndata: c\n\n");
    expect(events.map((e) => e.id)).toEqual(["1", "1", "1"]);
  });

  it("does not dispatch an event without data, and resets its type", () => {
    const { events } = parse("event: lonely\n\ndata: after\n\n");
    expect(events).toEqual([{ event: "message", data: "after", id: "" }]);
  });

  it("drops a leading byte-order mark, and an event the stream ends before its blank line", () => {
    const { events } = parse("\uFEFFdata: first\n\ndata: unfinished\n");
    expect(events).toEqual([{ event: "message", data: "first", id: "" }]);
  });
});

describe("openEventStream", () => {
  it("sends the stored key as the client does, and reads events as they arrive", async () => {
    setApiKey("s3cret");
    const server = streamingFetch();
    const events: ServerSentEvent[] = [];
    const onOpen = vi.fn();
    const onError = vi.fn();
    const stream = openEventStream("/campaigns/1/events", { onEvent: (e) => events.push(e), onOpen, onError });

    await settle();
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(new URL(request!.url).pathname).toBe("/campaigns/1/events");
    expect(request!.headers.get("Authorization")).toBe("Bearer s3cret");
    expect(request!.headers.get("Accept")).toBe("text/event-stream");
    expect(new URL(request!.url).search).toBe(""); // never the key in the URL

    server.push("event: progress\ndata: 1\n\n");
    await settle();
    expect(onOpen).toHaveBeenCalledOnce();
    expect(events.map((e) => e.data)).toEqual(["1"]);
    server.push("event: progress\nda");
    await settle();
    expect(events).toHaveLength(1);
    server.push("ta: 2\n\n");
    server.end();
    await expect(stream.done).resolves.toBe("closed");
    expect(events.map((e) => e.data)).toEqual(["1", "2"]);
    expect(onError).not.toHaveBeenCalled();
  });

  it("sends no Authorization header without a key", async () => {
    const server = streamingFetch();
    const stream = openEventStream("/campaigns/1/events", { onEvent: () => {} });
    await settle();
    expect(server.requests[0]!.headers.has("Authorization")).toBe(false);
    server.end();
    await expect(stream.done).resolves.toBe("closed");
  });

  it("decodes UTF-8 characters split between chunks", async () => {
    const server = streamingFetch();
    const events: ServerSentEvent[] = [];
    const stream = openEventStream("/e", { onEvent: (e) => events.push(e) });
    const bytes = new TextEncoder().encode("data: Habari ✓ 😀\n\n");
    const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of ✓
    server.push(bytes.slice(0, cut));
    server.push(bytes.slice(cut, cut + 6));
    server.push(bytes.slice(cut + 6));
    server.end();
    await expect(stream.done).resolves.toBe("closed");
    expect(events.map((e) => e.data)).toEqual(["Habari ✓ 😀"]);
  });

  it("close() aborts the request, reports no error and delivers nothing more", async () => {
    const server = streamingFetch();
    const events: ServerSentEvent[] = [];
    const onError = vi.fn();
    const stream = openEventStream("/e", {
      onEvent: (e) => {
        events.push(e);
        stream.close(); // a handler may close: the rest of the chunk is not delivered
      },
      onError,
    });
    await settle();
    server.push("data: 1\n\ndata: 2\n\n");
    await expect(stream.done).resolves.toBe("aborted");
    expect(server.requests[0]!.signal.aborted).toBe(true);
    expect(events.map((e) => e.data)).toEqual(["1"]);
    expect(onError).not.toHaveBeenCalled();
  });

  it("closes on the caller's signal too, while waiting for data", async () => {
    const server = streamingFetch();
    const caller = new AbortController();
    const onError = vi.fn();
    const stream = openEventStream("/e", { onEvent: () => {}, onError, signal: caller.signal });
    await settle();
    caller.abort();
    await expect(stream.done).resolves.toBe("aborted");
    expect(server.requests[0]!.signal.aborted).toBe(true);
    expect(onError).not.toHaveBeenCalled();
  });

  it("reports the error envelope of an error answer as an ApiError", async () => {
    answer(
      Response.json(
        { error: { code: "CAMPAIGN_NOT_FOUND", message: "Campaign with ID 9 not found" } },
        { status: 404 },
      ),
    );
    const onError = vi.fn();
    const onOpen = vi.fn();
    const stream = openEventStream("/campaigns/9/events", { onEvent: () => {}, onError, onOpen });
    await expect(stream.done).resolves.toBe("error");
    expect(onOpen).not.toHaveBeenCalled();
    const [error] = onError.mock.calls[0] as [ApiError];
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: "CAMPAIGN_NOT_FOUND", message: "Campaign with ID 9 not found" });
  });

  it("drops a refused key on a 401, as the client does", async () => {
    setApiKey("stale");
    answer(Response.json({ error: { code: "UNAUTHORIZED", message: "Invalid API key" } }, { status: 401 }));
    const onError = vi.fn();
    const stream = openEventStream("/e", { onEvent: () => {}, onError });
    await expect(stream.done).resolves.toBe("error");
    expect(onError.mock.calls[0]![0]).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(getApiKey()).toBeNull();
  });

  it("reports no answer, a proxy's 502 and a broken stream as unreachable", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))),
    );
    const onError = vi.fn();
    await expect(openEventStream("/e", { onEvent: () => {}, onError }).done).resolves.toBe("error");
    expect(onError.mock.calls[0]![0]).toMatchObject({ status: 0, isUnreachable: true });

    answer(new Response("<html>Bad gateway</html>", { status: 502 }));
    await expect(openEventStream("/e", { onEvent: () => {}, onError }).done).resolves.toBe("error");
    expect(onError.mock.calls[1]![0]).toMatchObject({ status: 502, isUnreachable: true });

    const server = streamingFetch();
    const events: ServerSentEvent[] = [];
    const broken = openEventStream("/e", { onEvent: (e) => events.push(e), onError });
    server.push("data: before\n\n");
    await settle();
    server.fail();
    await expect(broken.done).resolves.toBe("error");
    expect(events.map((e) => e.data)).toEqual(["before"]);
    expect(onError.mock.calls[2]![0]).toMatchObject({ status: 0, isUnreachable: true });
  });

  it("refuses a 200 that is not an event stream (a page instead of the API)", async () => {
    answer(new Response("<!doctype html>", { headers: { "Content-Type": "text/html" } }));
    const onError = vi.fn();
    await expect(openEventStream("/e", { onEvent: () => {}, onError }).done).resolves.toBe("error");
    expect(onError.mock.calls[0]![0]).toMatchObject({ status: 200, code: "HTTP_200" });
  });
});

describe("watchCampaignProgress", () => {
  it("hands over each progress event's campaign until the server ends the stream", async () => {
    const server = streamingFetch();
    const seen: string[] = [];
    const stream = watchCampaignProgress(4, { onProgress: (campaign) => seen.push(campaign.status) });
    const sending = campaignDetail({ id: 4, status: "sending" });
    const sent = campaignDetail({ id: 4, status: "sent" });
    server.push(`event: progress\ndata: ${JSON.stringify(sending)}\n\n: ping\n\n`);
    server.push(`event: other\ndata: {}\n\nevent: progress\ndata: ${JSON.stringify(sent)}\n\n`);
    server.end();
    await expect(stream.done).resolves.toBe("closed");
    expect(new URL(server.requests[0]!.url).pathname).toBe("/campaigns/4/events");
    expect(seen).toEqual(["sending", "sent"]);
  });

  it("stops with an error on a progress event that is not JSON", async () => {
    const server = streamingFetch();
    const onError = vi.fn();
    const onProgress = vi.fn();
    const stream = watchCampaignProgress(4, { onProgress, onError });
    server.push("event: progress\ndata: {not json\n\n");
    await expect(stream.done).resolves.toBe("aborted");
    expect(onProgress).not.toHaveBeenCalled();
    expect(onError.mock.calls[0]![0]).toBeInstanceOf(ApiError);
  });
});
