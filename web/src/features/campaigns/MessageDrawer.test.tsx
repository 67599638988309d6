import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { MessageDetail } from "../../api/queries";
import { apiError } from "../../test/api";
import { message, mockDetailApi, renderDetail } from "../../test/detail";

const detail: MessageDetail = {
  ...message({ id: 41, customer_id: 7, status: "failed", retry_count: 2, last_error: "mock provider: throttled by carrier" }),
  error_code: "PROVIDER_ERROR",
  attempts: [
    { attempt: 1, at: "2025-03-01T10:00:01Z", outcome: "retry", error_code: "PROVIDER_TIMEOUT", error: "mock provider: timeout talking to carrier", provider_message_id: null },
    { attempt: 2, at: "2025-03-01T10:00:03Z", outcome: "retry", error_code: "PROVIDER_ERROR", error: "mock provider: 503 service unavailable", provider_message_id: null },
    { attempt: 3, at: "2025-03-01T10:00:07Z", outcome: "failed", error_code: "PROVIDER_ERROR", error: "mock provider: throttled by carrier", provider_message_id: null },
  ],
};

describe("Message drawer", () => {
  it("opens from a message row with the message and every attempt", async () => {
    const api = mockDetailApi(
      { status: "sent" },
      {
        messages: [message({ id: 41 })],
        handlers: [http.get("/campaigns/1/messages/41", () => HttpResponse.json(detail))],
      },
    );
    const user = userEvent.setup();
    renderDetail();

    const table = await screen.findByRole("table", { name: "Messages" });
    await user.click(within(table).getByText("Hi Ada"));
    const drawer = screen.getByRole("dialog", { name: "Message #41" });
    expect(drawer).toHaveClass("modal--drawer");

    const attempts = await within(drawer).findByRole("table", { name: "Attempts" });
    const rows = within(attempts).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getAllByRole("cell").map((c) => c.textContent))).toEqual([
      ["1", expect.stringMatching(/10:00:01/), "Failed, retried", "Provider timed out PROVIDER_TIMEOUT", "mock provider: timeout talking to carrier"],
      ["2", expect.stringMatching(/10:00:03/), "Failed, retried", "Provider error PROVIDER_ERROR", "mock provider: 503 service unavailable"],
      ["3", expect.stringMatching(/10:00:07/), "Failed", "Provider error PROVIDER_ERROR", "mock provider: throttled by carrier"],
    ]);
    expect(within(drawer).getByText("Error code", { selector: "dt" }).nextSibling).toHaveTextContent("PROVIDER_ERROR");
    expect(drawer).toHaveTextContent("Hi Ada");
    expect(api.to("GET", "/campaigns/1/messages/41")).toHaveLength(1);

    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
  });

  it("opens from the keyboard too, and says when there are no attempts yet", async () => {
    mockDetailApi(
      { status: "sent" },
      {
        messages: [message({ id: 5, customer_id: 9, status: "pending" })],
        handlers: [
          http.get("/campaigns/1/messages/5", () =>
            HttpResponse.json({ ...detail, ...message({ id: 5, status: "cancelled" }), error_code: null, attempts: [] }),
          ),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    const button = await screen.findByRole("button", { name: "Message #5 to customer #9: details" });
    button.focus();
    await user.keyboard("{Enter}");
    const drawer = screen.getByRole("dialog", { name: "Message #5" });
    expect(await within(drawer).findByText("Not attempted yet.")).toBeInTheDocument();
  });

  it("shows the provider, its id for the message, and what the receipts said", async () => {
    mockDetailApi(
      { status: "sent" },
      {
        messages: [message({ id: 8, status: "sent", delivery_status: "read" })],
        handlers: [
          http.get("/campaigns/1/messages/8", () =>
            HttpResponse.json({
              ...detail,
              ...message({ id: 8, status: "sent", last_error: null, retry_count: 0 }),
              error_code: null,
              provider: "twilio",
              provider_message_id: "SM0123456789abcdef",
              delivery_status: "read",
              delivered_at: "2025-03-01T10:00:09Z",
              attempts: [
                { attempt: 1, at: "2025-03-01T10:00:01Z", outcome: "sent", error_code: null, error: null, provider_message_id: "SM0123456789abcdef" },
              ],
            } satisfies MessageDetail),
          ),
        ],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Message #8 to customer #7: details" }));
    const drawer = screen.getByRole("dialog", { name: "Message #8" });
    const field = async (label: string) => (await within(drawer).findByText(label, { selector: "dt" })).nextElementSibling;

    expect(await field("Provider")).toHaveTextContent("twilio");
    expect(await field("Provider message ID")).toHaveTextContent("SM0123456789abcdef");
    expect(within((await field("Delivery")) as HTMLElement).getByText("Read")).toHaveClass("badge--read");
    const delivered = within((await field("Delivered")) as HTMLElement).getByText(/10:00:09/);
    expect(delivered).toHaveAttribute("dateTime", "2025-03-01T10:00:09Z");
    expect(within(drawer).queryByText("Error code", { selector: "dt" })).not.toBeInTheDocument();
  });

  it("leaves out the provider and receipt fields a message does not have", async () => {
    mockDetailApi(
      { status: "sent" },
      {
        messages: [message({ id: 9 })],
        handlers: [http.get("/campaigns/1/messages/9", () => HttpResponse.json({ ...detail, id: 9 }))],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByText("Hi Ada"));
    const drawer = screen.getByRole("dialog", { name: "Message #9" });
    await within(drawer).findByRole("table", { name: "Attempts" });
    for (const label of ["Provider", "Provider message ID", "Delivery", "Delivered"]) {
      expect(within(drawer).queryByText(label, { selector: "dt" })).not.toBeInTheDocument();
    }
  });

  it("shows a message that no longer exists", async () => {
    mockDetailApi(
      { status: "sent" },
      {
        messages: [message({ id: 6 })],
        handlers: [http.get("/campaigns/1/messages/6", () => apiError(404, "MESSAGE_NOT_FOUND", "Message 6 not found"))],
      },
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByText("Hi Ada"));
    await waitFor(() => expect(screen.getByRole("dialog")).toHaveTextContent("Message not found"));
  });
});
