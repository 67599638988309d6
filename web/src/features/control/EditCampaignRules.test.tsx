import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CampaignDetail } from "../../api/models";
import { apiError } from "../../test/api";
import { mockDetailApi, renderDetail } from "../../test/detail";
import { campaignDetail, customer, page, preview } from "../../test/factories";

const previewHandlers = [
  http.get("/customers", () => HttpResponse.json(page([customer({ id: 7 })]))),
  http.post("/templates/preview", () => HttpResponse.json(preview())),
];

const expires = "2099-12-02T21:00:00Z";
const localOf = (iso: string) => {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

const stored: Partial<CampaignDetail> = {
  status: "scheduled",
  channel: "whatsapp",
  scheduled_at: "2099-12-01T09:30:00Z",
  send_window: { start: "08:00", end: "20:00" },
  expires_at: expires,
  whatsapp_template: { name: "spring_sale", language: "en", body_params: ["{first_name}"] },
};

function editApi(patch: Parameters<typeof http.patch>[1] = () => HttpResponse.json(campaignDetail(stored))) {
  return mockDetailApi(stored, { handlers: [...previewHandlers, http.patch("/campaigns/1", patch)] });
}

async function openEdit(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByRole("button", { name: "Edit…" }));
  return screen.getByRole("dialog", { name: /Edit/ });
}

const set = (dialog: HTMLElement, label: string | RegExp, value: string) =>
  fireEvent.change(within(dialog).getByLabelText(label), { target: { value } });

describe("Edit campaign: delivery rules", () => {
  it("starts from the stored rules and sends nothing when they are untouched", async () => {
    const api = editApi();
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openEdit(user);
    expect(within(dialog).getByLabelText("From (customer's local time)")).toHaveValue("08:00");
    expect(within(dialog).getByLabelText("Until (customer's local time)")).toHaveValue("20:00");
    expect(within(dialog).getByLabelText(/Expires/)).toHaveValue(localOf(expires));
    expect(within(dialog).getByLabelText("Send an approved template instead of the text above")).toBeChecked();
    expect(within(dialog).getByLabelText("Template name")).toHaveValue("spring_sale");
    expect(within(dialog).getByLabelText(/Body parameters/)).toHaveValue("{first_name}");

    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(api.to("PATCH", "/campaigns/1")).toHaveLength(0);
  });

  it("sends only the changed window and the new expiry", async () => {
    const api = editApi();
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openEdit(user);
    set(dialog, "From (customer's local time)", "21:00");
    set(dialog, "Until (customer's local time)", "06:00");
    set(dialog, /Expires/, "2099-12-05T18:00");
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(api.to("PATCH", "/campaigns/1")).toHaveLength(1));
    expect(api.to("PATCH", "/campaigns/1")[0]!.body).toEqual({
      send_window: { start: "21:00", end: "06:00" },
      expires_at: new Date("2099-12-05T18:00").toISOString().replace(".000Z", "Z"),
    });
  });

  it("clears the window, the expiry and the template with null", async () => {
    const api = editApi();
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openEdit(user);
    set(dialog, "From (customer's local time)", "");
    set(dialog, "Until (customer's local time)", "");
    set(dialog, /Expires/, "");
    await user.click(within(dialog).getByLabelText("Send an approved template instead of the text above"));
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(api.to("PATCH", "/campaigns/1")).toHaveLength(1));
    expect(api.to("PATCH", "/campaigns/1")[0]!.body).toEqual({
      send_window: null,
      expires_at: null,
      whatsapp_template: null,
    });
  });

  it("sends the edited template whole, and drops it when the channel becomes SMS", async () => {
    const api = editApi();
    const user = userEvent.setup();
    renderDetail();
    let dialog = await openEdit(user);
    set(dialog, /Body parameters/, "{first_name}\n{location}");
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(api.to("PATCH", "/campaigns/1")).toHaveLength(1));
    expect(api.to("PATCH", "/campaigns/1")[0]!.body).toEqual({
      whatsapp_template: { name: "spring_sale", language: "en", body_params: ["{first_name}", "{location}"] },
    });

    dialog = await openEdit(user);
    await user.click(within(dialog).getByLabelText("SMS"));
    expect(within(dialog).queryByLabelText("Template name")).not.toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(api.to("PATCH", "/campaigns/1")).toHaveLength(2));
    expect(api.to("PATCH", "/campaigns/1")[1]!.body).toEqual({ channel: "sms", whatsapp_template: null });
  });

  it("shows the API's 422 on the rule's own field", async () => {
    editApi(() =>
      apiError(422, "VALIDATION_ERROR", "Invalid request", [
        { field: "send_window.end", message: "String should match pattern" },
        { field: "whatsapp_template.language", message: "String should have at least 2 characters" },
      ]),
    );
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openEdit(user);
    set(dialog, "Until (customer's local time)", "19:00");
    await user.click(within(dialog).getByRole("button", { name: "Save changes" }));
    const end = within(dialog).getByLabelText("Until (customer's local time)");
    await waitFor(() => expect(end).toHaveAttribute("aria-invalid", "true"));
    expect(end).toHaveAccessibleDescription("String should match pattern");
    expect(within(dialog).getByLabelText("Language code")).toHaveAccessibleDescription(
      "String should have at least 2 characters",
    );
    expect(within(dialog).getByLabelText("Name")).not.toHaveAttribute("aria-invalid");
    expect(within(dialog).getByRole("alert")).toHaveTextContent("Please fix the highlighted fields.");
  });
});
