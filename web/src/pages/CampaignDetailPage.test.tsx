import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CampaignDetail, SendRequest } from "../api/models";
import { campaignPollInterval } from "../api/queries";
import { apiError, mockApi } from "../test/api";
import { campaignDetail, customer, page } from "../test/factories";
import { renderRoute } from "../test/render";
import { CampaignDetailPage } from "./CampaignDetailPage";

const renderDetail = (id = 1) =>
  renderRoute(<CampaignDetailPage />, { route: `/campaigns/${id}`, path: "/campaigns/:id" });

const message = {
  id: 1,
  campaign_id: 1,
  customer_id: 7,
  status: "failed" as const,
  rendered_content: "Hi Ada",
  retry_count: 3,
  last_error: "Carrier timeout",
  created_at: "2025-03-01T10:00:00Z",
  updated_at: "2025-03-01T10:01:00Z",
};

describe("CampaignDetailPage", () => {
  it("polls every second while sending and updates the stats", async () => {
    let calls = 0;
    mockApi(
      http.get("/campaigns/1", () => {
        calls += 1;
        const stats =
          calls === 1
            ? { total: 10, pending: 6, sending: 2, sent: 2, failed: 0, cancelled: 0 }
            : { total: 10, pending: 0, sending: 0, sent: 9, failed: 1, cancelled: 0 };
        return HttpResponse.json(campaignDetail({ status: calls === 1 ? "sending" : "sent", stats }));
      }),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([message]))),
    );
    renderDetail();

    const bar = await screen.findByRole("progressbar", { name: "Messages processed" });
    expect(bar).toHaveAttribute("aria-valuenow", "20");
    expect(screen.getByText("Live")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Send…" })).not.toBeInTheDocument();

    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "100"), { timeout: 3000 });
    expect(screen.queryByText("Live")).not.toBeInTheDocument();
    expect(campaignPollInterval("sending")).toBe(1000);
    expect(campaignPollInterval("sent")).toBe(false);
  });

  it("lists messages with status, content, retries and last error, filtered by status", async () => {
    const api = mockApi(
      http.get("/campaigns/1", () => HttpResponse.json(campaignDetail({ status: "sent" }))),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([message]))),
    );
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
    return mockApi(
      http.get("/campaigns/1", () => HttpResponse.json(campaignDetail({ status, ...detail }))),
      http.get("/campaigns/1/messages", () => HttpResponse.json(page([]))),
      customersHandler,
      http.post("/campaigns/1/send", async ({ request }) => {
        status = "sending";
        const ids = ((await request.json()) as SendRequest).customer_ids;
        return HttpResponse.json({ campaign_id: 1, messages_queued: ids?.length ?? 5, status: "sending" }, { status: 202 });
      }),
    );
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
    expect(await screen.findByText("Live")).toBeInTheDocument();
  });

  it("searches customers; keeps the Idempotency-Key for retries, new key per opening", async () => {
    let sendCalls = 0;
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
