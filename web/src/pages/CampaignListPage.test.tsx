import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { apiError, mockApi } from "../test/api";
import { campaignSummary, page } from "../test/factories";
import { renderRoute } from "../test/render";
import { CampaignListPage } from "./CampaignListPage";

const renderList = (route = "/") => renderRoute(<CampaignListPage />, { route, path: "/" });

describe("CampaignListPage", () => {
  it("renders campaigns with status badges and the total count", async () => {
    mockApi(
      http.get("/campaigns", () =>
        HttpResponse.json(
          page(
            [
              campaignSummary({ id: 1, name: "Spring sale", status: "sent", channel: "sms" }),
              campaignSummary({ id: 2, name: "Loyalty ping", status: "sending", channel: "whatsapp" }),
            ],
            { total_count: 57, total_pages: 3, next_cursor: "c2" },
          ),
        ),
      ),
    );
    renderList();

    const rows = await screen.findAllByRole("row");
    expect(rows).toHaveLength(3); // header + 2
    const first = within(rows[1]!);
    expect(first.getByRole("link", { name: "Spring sale" })).toHaveAttribute("href", "/campaigns/1");
    expect(first.getByText("Sent")).toHaveClass("badge", "badge--sent");
    expect(first.getByText("SMS")).toBeInTheDocument();
    const second = within(rows[2]!);
    expect(second.getByText("Sending")).toHaveClass("badge--sending");
    expect(second.getByText("WhatsApp")).toBeInTheDocument();
    expect(screen.getByText("57 campaigns")).toBeInTheDocument();
    expect(screen.getByText("Page 1 of 3")).toBeInTheDocument();
  });

  it("badges paused and cancelled campaigns and filters by those statuses", async () => {
    const api = mockApi(
      http.get("/campaigns", () =>
        HttpResponse.json(
          page([
            campaignSummary({ id: 3, name: "Held back", status: "paused" }),
            campaignSummary({ id: 4, name: "Called off", status: "cancelled" }),
          ]),
        ),
      ),
    );
    const user = userEvent.setup();
    renderList();

    const rows = await screen.findAllByRole("row");
    expect(within(rows[1]!).getByText("Paused")).toHaveClass("badge", "badge--paused");
    expect(within(rows[2]!).getByText("Cancelled")).toHaveClass("badge", "badge--cancelled");

    const status = screen.getByLabelText("Status");
    expect(within(status).getByRole("option", { name: "Paused" })).toHaveValue("paused");
    await user.selectOptions(status, "cancelled");
    await waitFor(() => expect(api.to("GET", "/campaigns").at(-1)?.query.get("status")).toBe("cancelled"));
  });

  it("shows an empty state with a link to create one", async () => {
    mockApi(http.get("/campaigns", () => HttpResponse.json(page([], { total_count: 0, total_pages: 0 }))));
    renderList();

    expect(await screen.findByText("No campaigns yet")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Create a campaign" })).toHaveAttribute("href", "/campaigns/new");
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
  });

  it("sends filter changes as query params and keeps them in the URL", async () => {
    const api = mockApi(http.get("/campaigns", () => HttpResponse.json(page([campaignSummary()]))));
    const user = userEvent.setup();
    renderList();
    await screen.findByRole("link", { name: "Spring sale" });

    await user.selectOptions(screen.getByLabelText("Channel"), "whatsapp");
    await waitFor(() => expect(api.to("GET", "/campaigns").at(-1)?.query.get("channel")).toBe("whatsapp"));

    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    await waitFor(() => expect(api.to("GET", "/campaigns").at(-1)?.query.get("status")).toBe("failed"));

    const last = api.to("GET", "/campaigns").at(-1)!;
    expect(last.query.get("channel")).toBe("whatsapp");
    expect(last.query.get("cursor")).toBeNull();
    expect(screen.getByTestId("location")).toHaveTextContent("/?channel=whatsapp&status=failed");
  });

  it("reads filters from the URL on load", async () => {
    const api = mockApi(http.get("/campaigns", () => HttpResponse.json(page([campaignSummary()]))));
    renderList("/?status=scheduled&channel=sms");
    await screen.findByRole("link", { name: "Spring sale" });

    const first = api.to("GET", "/campaigns")[0]!;
    expect(first.query.get("status")).toBe("scheduled");
    expect(first.query.get("channel")).toBe("sms");
    expect(screen.getByLabelText("Status")).toHaveValue("scheduled");
  });

  it("pages forward with next_cursor and back with page + snapshot_id", async () => {
    const api = mockApi(
      http.get("/campaigns", ({ request }) =>
        new URL(request.url).searchParams.get("cursor") === "cursor-page-2"
          ? HttpResponse.json(
              page([campaignSummary({ id: 21, name: "Page two campaign" })], {
                page: 2,
                total_count: 25,
                total_pages: 2,
                snapshot_id: 57,
                next_cursor: null,
              }),
            )
          : HttpResponse.json(
              page([campaignSummary({ id: 1, name: "Page one campaign" })], {
                page: 1,
                total_count: 25,
                total_pages: 2,
                snapshot_id: 57,
                next_cursor: "cursor-page-2",
              }),
            ),
      ),
    );
    const user = userEvent.setup();
    renderList("/?channel=sms");
    await screen.findByRole("link", { name: "Page one campaign" });
    expect(screen.getByRole("button", { name: "← Prev" })).toBeDisabled();

    await user.click(screen.getByRole("button", { name: "Next →" }));
    await screen.findByRole("link", { name: "Page two campaign" });
    const next = api.to("GET", "/campaigns").at(-1)!;
    expect(next.query.get("cursor")).toBe("cursor-page-2");
    expect(next.query.get("channel")).toBe("sms");
    expect(screen.getByText("Page 2 of 2")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Next →" })).toBeDisabled();

    await user.click(screen.getByRole("button", { name: "← Prev" }));
    await screen.findByRole("link", { name: "Page one campaign" });
    const prev = api.to("GET", "/campaigns").at(-1)!;
    expect(prev.query.get("page")).toBe("1");
    expect(prev.query.get("snapshot_id")).toBe("57");
    expect(prev.query.get("cursor")).toBeNull();
  });

  it("shows an error with retry when the API is down", async () => {
    let calls = 0;
    mockApi(
      http.get("/campaigns", () => {
        calls += 1;
        if (calls === 1) return HttpResponse.error(); // what fetch sees when the API is down
        return HttpResponse.json(page([campaignSummary({ name: "Back online" })]));
      }),
    );
    const user = userEvent.setup();
    renderList();

    expect(await screen.findByText("The API is unreachable")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("link", { name: "Back online" })).toBeInTheDocument();
  });

  it("shows the API's error message for server errors", async () => {
    mockApi(http.get("/campaigns", () => apiError(429, "RATE_LIMITED", "Slow down, please.")));
    renderList();
    expect(await screen.findByRole("alert")).toHaveTextContent("Slow down, please.");
  });
});
