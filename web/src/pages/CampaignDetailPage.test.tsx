import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CampaignDetail, SendRequest } from "../api/models";
import { campaignPollInterval } from "../api/queries";
import { apiError, mockApi, mockEventStream } from "../test/api";
import { message as messageRow, mockDetailApi, renderDetail } from "../test/detail";
import { campaignDetail, customer, page } from "../test/factories";

const message = messageRow();
const sleep = (ms: number) => act(() => new Promise((resolve) => setTimeout(resolve, ms)));

describe("CampaignDetailPage", () => {
  it("follows the event stream while sending: the cache updates from each event, and nothing polls", async () => {
    const sending = (sent: number, failed = 0) =>
      campaignDetail({
        status: "sending",
        stats: { total: 10, pending: 10 - sent - failed, sending: 0, sent, failed, cancelled: 0, delivered: 0, undelivered: 0 },
      });
    const api = mockDetailApi(() => sending(2), { messages: [message] });
    renderDetail();

    const bar = await screen.findByRole("progressbar", { name: "Messages processed" });
    expect(bar).toHaveAttribute("aria-valuenow", "20");
    await waitFor(() => expect(api.stream.open).toBe(true));

    api.stream.progress(sending(5));
    expect(await screen.findByText("Live")).toBeInTheDocument();
    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "50"));

    // Twice the polling interval with the stream open: the detail is fetched once only.
    api.stream.ping();
    await sleep(2 * 1000 + 200);
    expect(api.to("GET", "/campaigns/1")).toHaveLength(1);
    // The messages list refetched because the counts moved, not on a timer.
    const messageFetches = api.to("GET", "/campaigns/1/messages").length;
    expect(messageFetches).toBe(2);

    api.stream.progress(
      campaignDetail({ status: "sent", stats: { total: 10, pending: 0, sending: 0, sent: 9, failed: 1, cancelled: 0, delivered: 0, undelivered: 0 } }),
    );
    api.stream.end();
    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "100"));
    expect(screen.getByText("Sent", { selector: ".badge" })).toBeInTheDocument();
    expect(screen.queryByText("Live")).not.toBeInTheDocument();
    await sleep(1200);
    expect(api.to("GET", "/campaigns/1")).toHaveLength(1);
    expect(api.stream.opened).toBe(1);
  }, 10_000);

  it("closes the stream when the page goes away", async () => {
    const api = mockDetailApi({ status: "sending" });
    const { unmount } = renderDetail();
    await screen.findByRole("progressbar");
    await waitFor(() => expect(api.stream.open).toBe(true));
    unmount();
    await waitFor(() => expect(api.stream.open).toBe(false));
  });

  it("does not open a stream for a final campaign", async () => {
    const api = mockDetailApi({ status: "sent" });
    renderDetail();
    await screen.findByRole("progressbar");
    await sleep(300);
    expect(api.stream.opened).toBe(0);
  });

  it("falls back to polling every second when the stream fails, and stops once final", async () => {
    let calls = 0;
    const api = mockApi(
      http.get("/campaigns/1/events", () => apiError(503, "SERVICE_UNAVAILABLE", "Try later")),
      http.get("/campaigns/1", () => {
        calls += 1;
        const stats =
          calls === 1
            ? { total: 10, pending: 6, sending: 2, sent: 2, failed: 0, cancelled: 0, delivered: 0, undelivered: 0 }
            : { total: 10, pending: 0, sending: 0, sent: 9, failed: 1, cancelled: 0, delivered: 0, undelivered: 0 };
        return HttpResponse.json(campaignDetail({ status: calls === 1 ? "sending" : "sent", stats }));
      }),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([message]))),
    );
    renderDetail();

    const bar = await screen.findByRole("progressbar", { name: "Messages processed" });
    expect(bar).toHaveAttribute("aria-valuenow", "20");
    expect(await screen.findByText("Refreshing")).toBeInTheDocument();
    expect(screen.queryByText("Live")).not.toBeInTheDocument();

    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "100"), { timeout: 3000 });
    expect(screen.queryByText("Refreshing")).not.toBeInTheDocument();
    const fetched = calls;
    await sleep(1500);
    expect(calls).toBe(fetched);
    expect(api.to("GET", "/campaigns/1/events")).toHaveLength(1);
    expect(campaignPollInterval("sending")).toBe(1000);
    expect(campaignPollInterval("sent")).toBe(false);
  });

  it("after a cancel, polls until the attempts still in flight are recorded", async () => {
    let calls = 0;
    const api = mockApi(
      http.get("/campaigns/1", () => {
        calls += 1;
        const inFlight = calls < 3 ? 1 : 0;
        return HttpResponse.json(
          campaignDetail({
            status: "cancelled",
            stats: { total: 4, pending: 0, sending: inFlight, sent: 2 - inFlight + 1, failed: 0, cancelled: 1, delivered: 0, undelivered: 0 },
          }),
        );
      }),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([message]))),
    );
    renderDetail();
    const bar = await screen.findByRole("progressbar", { name: "Messages processed" });
    expect(bar).toHaveAttribute("aria-valuenow", "75");
    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "100"), { timeout: 4000 });
    await sleep(1200);
    expect(calls).toBe(3);
    expect(api.to("GET", "/campaigns/1/events")).toHaveLength(0);
  }, 10_000);

  it("counts cancelled messages as processed and shows them in the bar", async () => {
    mockDetailApi({
      status: "cancelled",
      stats: { total: 10, pending: 0, sending: 0, sent: 4, failed: 1, cancelled: 5, delivered: 0, undelivered: 0 },
    });
    renderDetail();
    const bar = await screen.findByRole("progressbar", { name: "Messages processed" });
    expect(bar).toHaveAttribute("aria-valuenow", "100");
    expect(bar).toHaveAttribute("aria-valuetext", expect.stringContaining("5 cancelled"));
    expect(bar.querySelector(".progress__segment--cancelled")).toHaveStyle({ width: "50%" });
    expect(screen.getByText("Cancelled", { selector: ".badge" })).toHaveClass("badge--cancelled");
  });

  it("shows why a paused campaign is paused, prominently", async () => {
    const reason = "automatic: more than 50% of the last 200 attempts failed (120 of 200)";
    mockDetailApi({
      status: "paused",
      pause_reason: reason,
      stats: { total: 10, pending: 6, sending: 0, sent: 2, failed: 2, cancelled: 0, delivered: 0, undelivered: 0 },
    });
    renderDetail();
    const banner = await screen.findByRole("status", { name: "Paused automatically" });
    expect(banner).toHaveTextContent(reason);
    expect(screen.getByText("Paused", { selector: ".badge" })).toHaveClass("badge--paused");
    expect(screen.getByRole("progressbar")).toHaveClass("progress--paused");
  });

  it("lists messages with status, content, retries and last error, filtered by status", async () => {
    const api = mockDetailApi({ status: "sent" }, { messages: [message] });
    const user = userEvent.setup();
    renderDetail();

    const table = await screen.findByRole("table", { name: "Messages" });
    const row = within(table).getAllByRole("row")[1]!;
    expect(within(row).getByText("Failed")).toHaveClass("badge--failed");
    expect(within(row).getByText("Hi Ada")).toBeInTheDocument();
    expect(within(row).getByText("3")).toBeInTheDocument();
    expect(within(row).getByText("Carrier timeout")).toBeInTheDocument();

    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    await waitFor(() =>
      expect(api.to("GET", "/campaigns/1/messages").at(-1)?.query.get("status")).toBe("failed"),
    );
  });

  it("shows the delivery funnel of the sent messages, and follows the stream's receipts", async () => {
    const stats = (delivered: number, undelivered: number) => ({
      total: 12,
      pending: 2,
      sending: 0,
      sent: 10,
      failed: 0,
      cancelled: 0,
      delivered,
      undelivered,
    });
    const api = mockDetailApi(() => campaignDetail({ status: "sending", stats: stats(6, 1) }));
    renderDetail();

    const funnel = await screen.findByRole("group", { name: "Receipts" });
    const step = (label: string) => {
      const dd = within(funnel).getByText(label, { selector: "dt" }).nextElementSibling as HTMLElement;
      return [dd.querySelector(".stat__count")?.textContent ?? dd.textContent, dd.querySelector(".stat__percent")?.textContent];
    };
    expect(step("Sent")).toEqual(["10", undefined]);
    expect(step("Delivered")).toEqual(["6", "60% of sent"]);
    expect(step("Undelivered")).toEqual(["1", "10% of sent"]);
    expect(step("Awaiting receipt")).toEqual(["3", "30% of sent"]);
    const bar = within(funnel).getByRole("img");
    expect(bar).toHaveAccessibleName("Of 10 sent: 6 delivered (60%), 1 undelivered (10%), 3 awaiting receipt (30%)");
    expect(bar.querySelector(".progress__segment--delivered")).toHaveStyle({ width: "60%" });
    expect(bar.querySelector(".progress__segment--awaiting")).toHaveStyle({ width: "30%" });

    await waitFor(() => expect(api.stream.open).toBe(true));
    api.stream.progress(campaignDetail({ status: "sending", stats: stats(8, 2) }));
    await waitFor(() => expect(step("Delivered")).toEqual(["8", "80% of sent"]));
    expect(step("Undelivered")).toEqual(["2", "20% of sent"]);
    expect(step("Awaiting receipt")).toEqual(["0", "0% of sent"]);
    expect(bar.querySelector(".progress__segment--awaiting")).toBeNull();
    expect(api.to("GET", "/campaigns/1")).toHaveLength(1);
  });

  it("shows no delivery percentages before anything is sent", async () => {
    mockDetailApi({ status: "draft" });
    renderDetail();
    const funnel = await screen.findByRole("group", { name: "Receipts" });
    expect(within(funnel).getByRole("img")).toHaveAccessibleName("No messages sent yet");
    expect(within(funnel).getAllByText("—")).toHaveLength(3);
    expect(funnel).toHaveTextContent("Receipts arrive once messages are sent.");
  });

  it("lists each message's error code and delivery status", async () => {
    mockDetailApi(
      { status: "sent" },
      {
        messages: [
          messageRow({ id: 1, status: "sent", last_error: null, retry_count: 0, delivery_status: "delivered" }),
          messageRow({ id: 2, status: "sent", last_error: null, retry_count: 0, delivery_status: "read" }),
          messageRow({ id: 3, status: "sent", last_error: null, retry_count: 0, delivery_status: "undelivered" }),
          messageRow({ id: 4, status: "sent", last_error: null, retry_count: 0, delivery_status: null }),
          messageRow({ id: 5, status: "failed", error_code: "PROVIDER_REJECTED", last_error: "Invalid number" }),
          messageRow({ id: 6, status: "failed", error_code: "OPTED_OUT", last_error: "Customer opted out" }),
        ],
      },
    );
    renderDetail();

    const table = await screen.findByRole("table", { name: "Messages" });
    const headers = within(table).getAllByRole("columnheader").map((h) => h.textContent);
    const column = (name: string) => {
      const index = headers.indexOf(name);
      expect(index).toBeGreaterThanOrEqual(0);
      return within(table)
        .getAllByRole("row")
        .slice(1)
        .map((r) => within(r).getAllByRole("cell")[index]!);
    };

    const delivery = column("Delivery");
    expect(delivery.map((c) => c.textContent)).toEqual(["Delivered", "Read", "Undelivered", "—", "—", "—"]);
    expect(within(delivery[0]!).getByText("Delivered")).toHaveClass("badge", "badge--delivered");
    expect(within(delivery[1]!).getByText("Read")).toHaveClass("badge", "badge--read");
    expect(within(delivery[2]!).getByText("Undelivered")).toHaveClass("badge", "badge--undelivered");
    expect(delivery[3]!.querySelector(".badge")).toBeNull();

    const codes = column("Error code");
    // In words, with the code itself beside them.
    expect(codes.map((c) => c.textContent)).toEqual([
      "—",
      "—",
      "—",
      "—",
      "Rejected by the provider PROVIDER_REJECTED",
      "Customer opted out OPTED_OUT",
    ]);
    expect(within(codes[4]!).getByText("PROVIDER_REJECTED").tagName).toBe("CODE");
  });

  it("shows not found for a missing campaign", async () => {
    mockApi(
      http.get("/campaigns/9", () => apiError(404, "CAMPAIGN_NOT_FOUND", "Campaign 9 not found")),
      http.get("/campaigns/9/messages", () => apiError(404, "CAMPAIGN_NOT_FOUND", "Campaign 9 not found")),
    );
    renderDetail(9);
    expect(await screen.findByText("Campaign not found")).toBeInTheDocument();
  });
});

describe("Send dialog", () => {
  const customersHandler = http.get("/customers", ({ request }) =>
    HttpResponse.json(
      page(
        new URL(request.url).searchParams.get("q") === "grace"
          ? [customer({ id: 8, first_name: "Grace" })]
          : [customer({ id: 7, first_name: "Ada" }), customer({ id: 8, first_name: "Grace" })],
      ),
    ),
  );

  function sendApi(detail: Partial<CampaignDetail> = {}) {
    let status: CampaignDetail["status"] = "draft";
    const stream = mockEventStream("/campaigns/1/events");
    const api = mockApi(
      http.get("/campaigns/1", () => HttpResponse.json(campaignDetail({ status, ...detail }))),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([]))),
      customersHandler,
      http.post("/campaigns/1/send", async ({ request }) => {
        status = "sending";
        const ids = ((await request.json()) as SendRequest).customer_ids;
        return HttpResponse.json(
          { campaign_id: 1, messages_queued: ids?.length ?? 5, status: "sending", skipped_opted_out: 0 },
          { status: 202 },
        );
      }),
    );
    return { ...api, stream };
  }

  it("selects customers, sends once with an Idempotency-Key and shows messages_queued", async () => {
    const api = sendApi();
    const user = userEvent.setup();
    renderDetail();

    await user.click(await screen.findByRole("button", { name: "Send…" }));
    const dialog = screen.getByRole("dialog", { name: "Send “Spring sale”" });
    await user.click(await within(dialog).findByLabelText("Select all on this page"));
    expect(within(dialog).getByText("2 customers selected")).toBeInTheDocument();

    await user.dblClick(within(dialog).getByRole("button", { name: "Send to 2 customers" }));
    expect(await within(screen.getByRole("dialog")).findByText("2")).toBeInTheDocument();
    expect(screen.getByRole("dialog")).toHaveTextContent("2 messages queued");

    const sends = api.to("POST", "/campaigns/1/send");
    expect(sends).toHaveLength(1);
    expect(sends[0]!.body).toEqual({ customer_ids: [7, 8] });
    expect(sends[0]!.headers.get("Idempotency-Key")).toMatch(/^[0-9a-f-]{36}$/);

    await user.click(screen.getByRole("button", { name: "Watch live progress" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    api.stream.progress(campaignDetail({ status: "sending" }));
    expect(await screen.findByText("Live")).toBeInTheDocument();
  });

  it("searches customers; keeps the Idempotency-Key for retries, new key per opening", async () => {
    let sendCalls = 0;
    mockEventStream("/campaigns/1/events");
    const api = mockApi(
      http.get("/campaigns/1", () => HttpResponse.json(campaignDetail())),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([]))),
      customersHandler,
      http.post("/campaigns/1/send", () => {
        sendCalls += 1;
        if (sendCalls < 3) return HttpResponse.error(); // a network failure: the outcome is unknown
        return HttpResponse.json({ campaign_id: 1, messages_queued: 1, status: "sending" }, { status: 202 });
      }),
    );
    const user = userEvent.setup();
    renderDetail();

    await user.click(await screen.findByRole("button", { name: "Send…" }));
    await user.type(screen.getByLabelText("Search customers"), "grace");
    await waitFor(() => expect(api.to("GET", "/customers").at(-1)?.query.get("q")).toBe("grace"));
    const dialog = screen.getByRole("dialog");
    await waitFor(() => expect(within(dialog).queryByText("Ada")).not.toBeInTheDocument());
    await user.click(within(dialog).getByRole("checkbox", { name: /Grace/ }));

    // The outcome of a network failure is unknown, so a retry reuses the key.
    await user.click(within(dialog).getByRole("button", { name: "Send to 1 customer" }));
    expect(await within(dialog).findByText("Couldn't reach the API")).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Send to 1 customer" }));
    await waitFor(() => expect(api.to("POST", "/campaigns/1/send")).toHaveLength(2));
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Send…" }));
    await user.click(await within(screen.getByRole("dialog")).findByRole("checkbox", { name: /Ada/ }));
    await user.click(screen.getByRole("button", { name: "Send to 1 customer" }));
    expect(await screen.findByText(/message queued/)).toBeInTheDocument();

    const [first, retry, reopened] = api.to("POST", "/campaigns/1/send");
    expect(first!.body).toEqual({ customer_ids: [8] });
    expect(retry!.headers.get("Idempotency-Key")).toBe(first!.headers.get("Idempotency-Key"));
    expect(reopened!.headers.get("Idempotency-Key")).not.toBe(first!.headers.get("Idempotency-Key"));
    expect(reopened!.body).toEqual({ customer_ids: [7] });
  });

  it("sends to the saved audience by omitting customer_ids", async () => {
    const api = sendApi({ audience_size: 5 });
    const user = userEvent.setup();
    renderDetail();

    await user.click(await screen.findByRole("button", { name: "Send…" }));
    expect(screen.getByLabelText("Saved audience (5 customers)")).toBeChecked();
    await user.click(screen.getByRole("button", { name: "Send to 5 customers" }));
    await screen.findByText(/messages queued/);
    expect(api.to("POST", "/campaigns/1/send")[0]!.body).toEqual({});
  });

  it("explains a 409 CAMPAIGN_NOT_SENDABLE", async () => {
    mockEventStream("/campaigns/1/events");
    mockApi(
      http.get("/campaigns/1", () => HttpResponse.json(campaignDetail({ audience_size: 2 }))),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([]))),
      http.get("/customers", () => HttpResponse.json(page([customer()]))),
      http.post("/campaigns/1/send", () => apiError(409, "CAMPAIGN_NOT_SENDABLE", "Campaign is already sending")),
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Send…" }));
    await user.click(screen.getByRole("button", { name: "Send to 2 customers" }));
    const alert = await within(screen.getByRole("dialog")).findByRole("alert");
    expect(alert).toHaveTextContent("This campaign can't be sent");
    expect(alert).toHaveTextContent("Campaign is already sending");
  });
});
