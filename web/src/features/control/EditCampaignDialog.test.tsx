import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CampaignDetail } from "../../api/models";
import { apiError } from "../../test/api";
import { mockDetailApi, renderDetail } from "../../test/detail";
import { campaignDetail, customer, page, preview } from "../../test/factories";

const previewHandlers = [
  http.get("/customers", () => HttpResponse.json(page([customer({ id: 7 }), customer({ id: 8, first_name: "Grace" })]))),
  http.post("/templates/preview", () => HttpResponse.json(preview())),
];

function editApi(detail: Partial<CampaignDetail>, patch: Parameters<typeof http.patch>[1]) {
  return mockDetailApi(detail, { handlers: [...previewHandlers, http.patch("/campaigns/1", patch)] });
}

const scheduled: Partial<CampaignDetail> = {
  status: "scheduled",
  name: "Spring sale",
  base_template: "Hi {first_name}",
  scheduled_at: "2030-05-01T09:30:00Z",
  audience_size: 3,
};

describe("Edit campaign", () => {
  it("sends only the changed field, and shows the answer", async () => {
    const api = editApi(scheduled, async ({ request }) => {
      const body = (await request.json()) as { name: string };
      return HttpResponse.json(campaignDetail({ ...scheduled, name: body.name }));
    });
    const user = userEvent.setup();
    renderDetail();

    await user.click(await screen.findByRole("button", { name: "Edit…" }));
    const dialog = screen.getByRole("dialog", { name: "Edit “Spring sale”" });
    expect(within(dialog).getByLabelText("Message template")).toHaveValue("Hi {first_name}");
    expect(within(dialog).getByLabelText(/Keep the current audience \(3 customers\)/)).toBeChecked();
    const name = within(dialog).getByLabelText("Name");
    await user.clear(name);
    await user.type(name, "Spring sale II");
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));

    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(api.to("PATCH", "/campaigns/1").map((r) => r.body)).toEqual([{ name: "Spring sale II" }]);
    expect(screen.getByRole("heading", { name: "Spring sale II" })).toBeInTheDocument();
  });

  it("sends the template and channel when changed, a cleared schedule as null, and nothing when untouched", async () => {
    const api = editApi(scheduled, () => HttpResponse.json(campaignDetail({ ...scheduled, status: "draft" })));
    const user = userEvent.setup();
    renderDetail();

    // Untouched: saving sends nothing.
    await user.click(await screen.findByRole("button", { name: "Edit…" }));
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(api.to("PATCH", "/campaigns/1")).toHaveLength(0);

    await user.click(screen.getByRole("button", { name: "Edit…" }));
    const dialog = screen.getByRole("dialog");
    await user.type(within(dialog).getByLabelText("Message template"), "!");
    await user.click(within(dialog).getByLabelText("WhatsApp"));
    await user.clear(within(dialog).getByLabelText(/Schedule/));
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(api.to("PATCH", "/campaigns/1")).toHaveLength(1));
    expect(api.to("PATCH", "/campaigns/1")[0]!.body).toEqual({
      base_template: "Hi {first_name}!",
      channel: "whatsapp",
      scheduled_at: null,
    });
  });

  it("replaces the audience by a segment", async () => {
    const api = editApi({ status: "draft" }, () => HttpResponse.json(campaignDetail({ segment: { location: "Paris" } })));
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Edit…" }));
    const dialog = screen.getByRole("dialog");
    await user.click(within(dialog).getByLabelText("A segment"));
    await user.click(within(dialog).getByLabelText("Customers matching…"));
    await user.type(within(dialog).getByLabelText("Location"), "Paris");
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(api.to("PATCH", "/campaigns/1")[0]!.body).toEqual({ segment: { location: "Paris" } });
    expect(screen.getByText("Segment: customers in Paris")).toBeInTheDocument();
  });

  it("shows the 422's field errors beside their fields", async () => {
    editApi(scheduled, () =>
      apiError(422, "VALIDATION_ERROR", "Invalid request", [
        { field: "body.base_template", message: "Unknown placeholder {frist_name}" },
        { field: "body.scheduled_at", message: "Must be in the future" },
      ]),
    );
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Edit…" }));
    const dialog = screen.getByRole("dialog");
    const template = within(dialog).getByLabelText("Message template");
    await user.clear(template);
    await user.type(template, "Hi {{frist_name}");
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));

    expect(await within(dialog).findByRole("alert")).toHaveTextContent("Please fix the highlighted fields.");
    expect(template).toHaveAccessibleDescription(expect.stringContaining("Unknown placeholder {frist_name}"));
    expect(template).toHaveAttribute("aria-invalid", "true");
    expect(within(dialog).getByLabelText(/Schedule/)).toHaveAccessibleDescription(
      expect.stringContaining("Must be in the future"),
    );
    expect(screen.getByRole("dialog")).toBeInTheDocument();
  });

  it("explains a 409 once the campaign was sent meanwhile", async () => {
    editApi({ status: "draft" }, () => apiError(409, "CAMPAIGN_NOT_EDITABLE", "Campaign 1 is sending"));
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Edit…" }));
    await user.type(screen.getByLabelText("Name"), "!");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await within(screen.getByRole("dialog")).findByRole("alert")).toHaveTextContent(
      "This campaign can no longer be edited: Campaign 1 is sending",
    );
  });
});
