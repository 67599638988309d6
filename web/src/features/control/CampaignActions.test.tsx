import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CampaignDetail, CampaignStatus } from "../../api/models";
import { apiError } from "../../test/api";
import { mockDetailApi, renderDetail } from "../../test/detail";
import { campaignDetail } from "../../test/factories";

const ACTIONS = ["Edit…", "Pause…", "Resume", "Cancel campaign…", "Send…"];

function shownActions() {
  const group = screen.getByRole("group", { name: "Campaign actions" });
  return within(group)
    .queryAllByRole("button")
    .map((b) => b.textContent);
}

describe("Campaign actions", () => {
  it.each<[CampaignStatus, number, string[]]>([
    ["draft", 0, ["Edit…", "Cancel campaign…", "Send…"]],
    ["scheduled", 0, ["Edit…", "Cancel campaign…", "Send…"]],
    ["sending", 0, ["Pause…", "Cancel campaign…"]],
    ["paused", 0, ["Resume", "Cancel campaign…"]],
    ["sent", 2, ["Retry 2 failed messages"]],
    ["sent", 0, []],
    ["failed", 1, ["Retry 1 failed message"]],
    ["cancelled", 3, []],
  ])("a %s campaign with %i failed offers %j", async (status, failed, expected) => {
    mockDetailApi({ status, stats: { total: 5, pending: 0, sending: 0, sent: 5 - failed, failed, cancelled: 0, delivered: 0, undelivered: 0 } });
    renderDetail();
    await screen.findByRole("heading", { name: "Spring sale" });
    expect(shownActions()).toEqual(expected);
    for (const name of ACTIONS.filter((a) => !expected.includes(a))) {
      expect(screen.queryByRole("button", { name })).not.toBeInTheDocument();
    }
  });

  it("pauses only after confirming, with the reason typed, and shows the answer", async () => {
    const api = mockDetailApi(
      { status: "sending" },
      {
        handlers: [
          http.post("/campaigns/1/pause", async ({ request }) => {
            const body = (await request.json()) as { reason?: string };
            return HttpResponse.json(campaignDetail({ status: "paused", pause_reason: body.reason ?? null }));
          }),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();

    await user.click(await screen.findByRole("button", { name: "Pause…" }));
    const dialog = screen.getByRole("dialog", { name: "Pause “Spring sale”?" });
    // Backing out sends nothing.
    await user.click(within(dialog).getByRole("button", { name: "Keep sending" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(api.to("POST", "/campaigns/1/pause")).toHaveLength(0);

    await user.click(screen.getByRole("button", { name: "Pause…" }));
    await user.type(screen.getByLabelText(/Reason/), "Wrong coupon code");
    await user.click(screen.getByRole("button", { name: "Pause campaign" }));

    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(api.to("POST", "/campaigns/1/pause")[0]!.body).toEqual({ reason: "Wrong coupon code" });
    // From the answer, without a refetch.
    expect(await screen.findByRole("status", { name: "Paused" })).toHaveTextContent("Wrong coupon code");
    expect(screen.getByRole("button", { name: "Resume" })).toBeInTheDocument();
    expect(api.to("GET", "/campaigns/1")).toHaveLength(1);
  });

  it("pauses without a body when no reason is given", async () => {
    const api = mockDetailApi(
      { status: "sending" },
      {
        handlers: [
          http.post("/campaigns/1/pause", () =>
            HttpResponse.json(campaignDetail({ status: "paused", pause_reason: "paused by an operator" })),
          ),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Pause…" }));
    await user.click(screen.getByRole("button", { name: "Pause campaign" }));
    expect(await screen.findByRole("status", { name: "Paused" })).toHaveTextContent("paused by an operator");
    expect(api.to("POST", "/campaigns/1/pause")[0]!.body).toBeUndefined();
  });

  it("shows a 409 from pause in the dialog and refetches the campaign's real status", async () => {
    let status: CampaignDetail["status"] = "sending";
    const api = mockDetailApi(() => campaignDetail({ status }), {
      handlers: [
        http.post("/campaigns/1/pause", () => {
          status = "sent";
          return apiError(409, "CAMPAIGN_NOT_PAUSABLE", "Campaign 1 is sent, not sending");
        }),
      ],
    });
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Pause…" }));
    await user.click(screen.getByRole("button", { name: "Pause campaign" }));
    const alert = await within(screen.getByRole("dialog")).findByRole("alert");
    expect(alert).toHaveTextContent("Couldn't pause the campaign: Campaign 1 is sent, not sending");
    await waitFor(() => expect(api.to("GET", "/campaigns/1").length).toBeGreaterThan(1));
    await waitFor(() => expect(screen.queryByRole("button", { name: "Pause…" })).not.toBeInTheDocument());
  });

  it("resumes at once and shows a 409 clearly", async () => {
    let resumes = 0;
    const api = mockDetailApi(
      { status: "paused", pause_reason: "paused by an operator" },
      {
        handlers: [
          http.post("/campaigns/1/resume", () => {
            resumes += 1;
            if (resumes === 1) return apiError(409, "CAMPAIGN_NOT_RESUMABLE", "Campaign 1 is cancelled, not paused");
            return HttpResponse.json(campaignDetail({ status: "sending" }));
          }),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Resume" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Couldn't resume the campaign: Campaign 1 is cancelled, not paused",
    );
    await user.click(screen.getByRole("button", { name: "Resume" }));
    expect(await screen.findByRole("button", { name: "Pause…" })).toBeInTheDocument();
    expect(screen.getByText("Sending", { selector: ".badge" })).toBeInTheDocument();
    expect(screen.queryByRole("status", { name: /Paused/ })).not.toBeInTheDocument();
    expect(api.to("POST", "/campaigns/1/resume")).toHaveLength(2);
  });

  it("cancels only after confirming", async () => {
    const api = mockDetailApi(
      { status: "sending", stats: { total: 10, pending: 6, sending: 1, sent: 3, failed: 0, cancelled: 0, delivered: 0, undelivered: 0 } },
      {
        handlers: [
          http.post("/campaigns/1/cancel", () =>
            HttpResponse.json(
              campaignDetail({
                status: "cancelled",
                stats: { total: 10, pending: 0, sending: 0, sent: 4, failed: 0, cancelled: 6, delivered: 0, undelivered: 0 },
              }),
            ),
          ),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Cancel campaign…" }));
    const dialog = screen.getByRole("dialog", { name: "Cancel “Spring sale”?" });
    expect(dialog).toHaveTextContent("up to 7 messages");
    await user.keyboard("{Escape}");
    expect(api.to("POST", "/campaigns/1/cancel")).toHaveLength(0);

    await user.click(screen.getByRole("button", { name: "Cancel campaign…" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Cancel campaign" }));
    expect(await screen.findByText("Cancelled", { selector: ".badge" })).toBeInTheDocument();
    expect(api.to("POST", "/campaigns/1/cancel")).toHaveLength(1);
    expect(shownActions()).toEqual([]);
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  });

  it("after a cancel from the live page, polls until the attempt in flight is recorded", async () => {
    const stats = (sending: number, sent: number, cancelled: number) => ({
      total: 4,
      pending: 4 - sending - sent - cancelled,
      sending,
      sent,
      failed: 0,
      cancelled,
      delivered: 0,
      undelivered: 0,
    });
    let cancelled = false;
    const api = mockDetailApi(
      () =>
        cancelled
          ? campaignDetail({ status: "cancelled", stats: stats(0, 2, 2) })
          : campaignDetail({ status: "sending", stats: stats(1, 1, 0) }),
      {
        handlers: [
          http.post("/campaigns/1/cancel", () => {
            cancelled = true;
            return HttpResponse.json(campaignDetail({ status: "cancelled", stats: stats(1, 1, 2) }));
          }),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await waitFor(() => expect(api.stream.open).toBe(true));
    api.stream.progress(campaignDetail({ status: "sending", stats: stats(1, 1, 0) }));
    await screen.findByText("Live");

    await user.click(screen.getByRole("button", { name: "Cancel campaign…" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Cancel campaign" }));
    const bar = screen.getByRole("progressbar");
    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "75"));
    // The stream is closed now (the campaign is final): only polling can show the last outcome.
    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "100"), { timeout: 3000 });
  });

  it("retries failed messages with an Idempotency-Key, kept for a retry after a network failure", async () => {
    let calls = 0;
    let status: CampaignStatus = "sent";
    const stats = { total: 5, pending: 0, sending: 0, sent: 3, failed: 2, cancelled: 0, delivered: 0, undelivered: 0 };
    const api = mockDetailApi(
      () => campaignDetail({ status, stats }),
      {
        handlers: [
          http.post("/campaigns/1/retry-failed", () => {
            calls += 1;
            if (calls === 1) return HttpResponse.error();
            status = "sending";
            return HttpResponse.json({ campaign_id: 1, messages_queued: 2, status: "sending" }, { status: 202 });
          }),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Retry 2 failed messages" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Couldn't retry the failed messages");
    await user.click(screen.getByRole("button", { name: "Retry 2 failed messages" }));
    expect(await screen.findByText("2 failed messages queued again.")).toBeInTheDocument();

    const [first, second] = api.to("POST", "/campaigns/1/retry-failed");
    expect(first!.headers.get("Idempotency-Key")).toMatch(/^[0-9a-f-]{36}$/);
    expect(second!.headers.get("Idempotency-Key")).toBe(first!.headers.get("Idempotency-Key"));
    // Sending again: the campaign is followed live again.
    await waitFor(() => expect(api.stream.opened).toBe(1));
  });

  it("a refused retry gets a new key next time", async () => {
    let calls = 0;
    const api = mockDetailApi(
      { status: "failed", stats: { total: 5, pending: 0, sending: 0, sent: 0, failed: 5, cancelled: 0, delivered: 0, undelivered: 0 } },
      {
        handlers: [
          http.post("/campaigns/1/retry-failed", () => {
            calls += 1;
            if (calls === 1) return apiError(409, "CAMPAIGN_NOT_RETRYABLE", "Campaign 1 is sending");
            return HttpResponse.json({ campaign_id: 1, messages_queued: 5, status: "sending" }, { status: 202 });
          }),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Retry 5 failed messages" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Campaign 1 is sending");
    await user.click(screen.getByRole("button", { name: "Retry 5 failed messages" }));
    await screen.findByText("5 failed messages queued again.");
    const [first, second] = api.to("POST", "/campaigns/1/retry-failed");
    expect(second!.headers.get("Idempotency-Key")).not.toBe(first!.headers.get("Idempotency-Key"));
  });
});
