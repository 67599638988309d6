// Send window, expiry and the WhatsApp template: the create form's JSON and errors, and
// how the detail page shows them (with the messages waiting for their window).
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, mockApi } from "../test/api";
import { message, mockDetailApi, renderDetail } from "../test/detail";
import { campaignDetail, customer, page, preview } from "../test/factories";
import { renderRoute } from "../test/render";
import { CreateCampaignPage } from "./CreateCampaignPage";

const renderCreate = () => renderRoute(<CreateCampaignPage />, { route: "/campaigns/new", path: "/campaigns/new" });

const createApi = (answer: Parameters<typeof http.post>[1]) =>
  mockApi(
    http.get("/customers", () => HttpResponse.json(page([customer({ id: 7 })]))),
    http.post("/templates/preview", () => HttpResponse.json(preview())),
    http.post("/campaigns", answer),
  );

const created = () => HttpResponse.json(campaignDetail({ id: 42 }), { status: 201 });

async function fillBasics(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByLabelText("Name"), "Night owls");
  fireEvent.change(screen.getByLabelText("Message template"), { target: { value: "Hi {first_name}" } });
}

const setValue = (label: string | RegExp, value: string) =>
  fireEvent.change(screen.getByLabelText(label), { target: { value } });

const utc = (local: string) => new Date(local).toISOString().replace(".000Z", "Z");

describe("Create campaign: send window and expiry", () => {
  it("sends the window as HH:MM and the expiry as UTC, labelled in the recipient's terms", async () => {
    const api = createApi(created);
    const user = userEvent.setup();
    renderCreate();
    await fillBasics(user);

    expect(screen.getByText(/Leave both empty to send at any time/)).toBeInTheDocument();
    setValue("From (customer's local time)", "08:00");
    setValue("Until (customer's local time)", "20:00");
    expect(screen.getByText(/Send only between 08:00 and 20:00 in each customer's local time\./)).toBeInTheDocument();
    expect(screen.getByText(/A start after the end wraps past midnight/)).toBeInTheDocument();
    setValue(/Expires/, "2030-12-02T21:00");
    expect(screen.getByLabelText(/Expires/)).toHaveAccessibleDescription(
      expect.stringContaining(`Nothing is sent after ${utc("2030-12-02T21:00")} (UTC)`),
    );
    await user.click(screen.getByRole("button", { name: "Create campaign" }));

    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/campaigns/42"));
    expect(api.to("POST", "/campaigns")[0]!.body).toEqual({
      name: "Night owls",
      channel: "sms",
      base_template: "Hi {first_name}",
      send_window: { start: "08:00", end: "20:00" },
      expires_at: utc("2030-12-02T21:00"),
    });
  });

  it("says when a window wraps past midnight", async () => {
    createApi(created);
    renderCreate();
    setValue("From (customer's local time)", "21:00");
    setValue("Until (customer's local time)", "06:00");
    expect(
      screen.getByText(/Send only between 21:00 and 06:00 in each customer's local time \(overnight: it wraps past midnight\)/),
    ).toBeInTheDocument();
  });

  it("sends neither when both are empty", async () => {
    const api = createApi(created);
    const user = userEvent.setup();
    renderCreate();
    await fillBasics(user);
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(api.to("POST", "/campaigns")).toHaveLength(1));
    const body = api.to("POST", "/campaigns")[0]!.body as Record<string, unknown>;
    expect(body).not.toHaveProperty("send_window");
    expect(body).not.toHaveProperty("expires_at");
    expect(body).not.toHaveProperty("whatsapp_template");
  });

  it("asks for the window's other end before sending", async () => {
    const api = createApi(created);
    const user = userEvent.setup();
    renderCreate();
    await fillBasics(user);
    setValue("From (customer's local time)", "08:00");
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    const end = screen.getByLabelText("Until (customer's local time)");
    expect(end).toHaveAttribute("aria-invalid", "true");
    expect(end).toHaveAccessibleDescription("Give the window an end too, or clear its start.");
    expect(end).toHaveFocus();
    expect(api.to("POST", "/campaigns")).toHaveLength(0);
  });

  it("shows the API's 422 on the window, the expiry and the template's name, not the campaign's", async () => {
    createApi(() =>
      apiError(422, "VALIDATION_ERROR", "Invalid request", [
        { field: "body.send_window.start", message: "String should match pattern" },
        { field: "expires_at", message: "must be after scheduled_at" },
        { field: "whatsapp_template.name", message: "String should match pattern '^[a-z0-9_]+$'" },
      ]),
    );
    const user = userEvent.setup();
    renderCreate();
    await fillBasics(user);
    await user.click(screen.getByLabelText("WhatsApp"));
    await user.click(screen.getByLabelText("Send an approved template instead of the text above"));
    await user.type(screen.getByLabelText("Template name"), "spring_sale");
    await user.type(screen.getByLabelText("Language code"), "en");
    setValue("From (customer's local time)", "08:00");
    setValue("Until (customer's local time)", "20:00");
    setValue(/Expires/, "2030-12-02T21:00");
    await user.click(screen.getByRole("button", { name: "Create campaign" }));

    const start = screen.getByLabelText("From (customer's local time)");
    await waitFor(() => expect(start).toHaveAttribute("aria-invalid", "true"));
    expect(start).toHaveAccessibleDescription("String should match pattern");
    expect(start).toHaveFocus();
    expect(screen.getByLabelText(/Expires/)).toHaveAccessibleDescription(
      expect.stringContaining("must be after scheduled_at"),
    );
    expect(screen.getByLabelText("Template name")).toHaveAccessibleDescription(
      "String should match pattern '^[a-z0-9_]+$'",
    );
    expect(screen.getByLabelText("Name")).not.toHaveAttribute("aria-invalid");

    // Fixing a field clears its error only.
    setValue("From (customer's local time)", "09:00");
    expect(start).not.toHaveAttribute("aria-invalid");
    expect(screen.getByLabelText("Template name")).toHaveAttribute("aria-invalid", "true");
  });
});

describe("Create campaign: WhatsApp template", () => {
  /** The create form with its basics filled, WhatsApp chosen and the template's fields open. */
  async function openTemplateFields() {
    const api = createApi(created);
    const user = userEvent.setup();
    renderCreate();
    await fillBasics(user);
    await user.click(screen.getByLabelText("WhatsApp"));
    await user.click(screen.getByLabelText("Send an approved template instead of the text above"));
    return { api, user };
  }

  it("is offered only for WhatsApp, and sends name, language and one body parameter per line", async () => {
    const api = createApi(created);
    const user = userEvent.setup();
    renderCreate();
    await fillBasics(user);
    expect(screen.queryByText("WhatsApp template")).not.toBeInTheDocument();

    await user.click(screen.getByLabelText("WhatsApp"));
    expect(screen.queryByLabelText("Template name")).not.toBeInTheDocument();
    await user.click(screen.getByLabelText("Send an approved template instead of the text above"));
    await user.type(screen.getByLabelText("Template name"), "spring_sale");
    await user.type(screen.getByLabelText("Language code"), "en_US");
    fireEvent.change(screen.getByLabelText(/Body parameters/), {
      target: { value: "{first_name}\n\n {preferred_product|our range} \n" },
    });
    await user.click(screen.getByRole("button", { name: "Create campaign" }));

    await waitFor(() => expect(api.to("POST", "/campaigns")).toHaveLength(1));
    expect(api.to("POST", "/campaigns")[0]!.body).toEqual({
      name: "Night owls",
      channel: "whatsapp",
      base_template: "Hi {first_name}",
      whatsapp_template: {
        name: "spring_sale",
        language: "en_US",
        body_params: ["{first_name}", "{preferred_product|our range}"],
      },
    });
  });

  it("sends a Twilio Content SID when one is given, and checks its form first", async () => {
    const { api, user } = await openTemplateFields();
    await user.type(screen.getByLabelText("Template name"), "spring_sale");
    await user.type(screen.getByLabelText("Language code"), "en");
    await user.type(screen.getByLabelText(/Twilio Content SID/), "HX123");
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    expect(screen.getByLabelText(/Twilio Content SID/)).toHaveAccessibleDescription(
      /HX followed by 32 hexadecimal digits/,
    );
    expect(api.to("POST", "/campaigns")).toHaveLength(0);

    const sid = "HX" + "0a".repeat(16);
    fireEvent.change(screen.getByLabelText(/Twilio Content SID/), { target: { value: ` ${sid} ` } });
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(api.to("POST", "/campaigns")).toHaveLength(1));
    expect(api.to("POST", "/campaigns")[0]!.body).toMatchObject({
      whatsapp_template: { name: "spring_sale", language: "en", body_params: [], content_sid: sid },
    });
  });

  it("is not sent once the channel goes back to SMS", async () => {
    const { api, user } = await openTemplateFields();
    await user.type(screen.getByLabelText("Template name"), "spring_sale");
    await user.click(screen.getByLabelText("SMS"));
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(api.to("POST", "/campaigns")).toHaveLength(1));
    expect(api.to("POST", "/campaigns")[0]!.body).not.toHaveProperty("whatsapp_template");
  });

  it("checks the name and language before sending", async () => {
    const { api, user } = await openTemplateFields();
    await user.type(screen.getByLabelText("Template name"), "Spring Sale");
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    expect(screen.getByLabelText("Template name")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Language code")).toHaveAccessibleDescription("Enter its language code, like en or en_US.");
    expect(api.to("POST", "/campaigns")).toHaveLength(0);
  });
});

describe("Campaign detail: delivery rules", () => {
  afterEach(() => vi.useRealTimers());

  const fields = () => within(screen.getByRole("region", { name: "Details" }));

  it("shows the send window in the recipient's terms and the expiry in local time", async () => {
    mockDetailApi({
      status: "scheduled",
      send_window: { start: "08:00", end: "20:00" },
      expires_at: new Date(2099, 11, 2, 21, 0).toISOString(),
    });
    renderDetail();
    expect(await screen.findByTestId("send-window")).toHaveTextContent("08:00–20:00 each customer's local time");
    expect(fields().getByTestId("expiry")).toHaveTextContent(/^Expires 2 Dec 2099 21:00$/);
    expect(screen.queryByTestId("waiting-for-window")).not.toBeInTheDocument();
  });

  it("says any time without a window, never without an expiry, and expired once past", async () => {
    mockDetailApi({ status: "sent", send_window: null, expires_at: "2020-03-01T09:00:00Z" });
    renderDetail();
    expect(await screen.findByTestId("send-window")).toHaveTextContent(/^Any time$/);
    const expiry = screen.getByTestId("expiry");
    expect(expiry).toHaveTextContent(/^Expired /);
    expect(within(expiry).getByText("Expired")).toHaveClass("badge");
  });

  it("says never for a campaign without an expiry", async () => {
    mockDetailApi({ status: "draft" });
    renderDetail();
    expect(await screen.findByTestId("expiry")).toHaveTextContent(/^Never$/);
  });

  it("says how many messages wait for their window, and when the next opens", async () => {
    const opens = new Date(2099, 11, 3, 8, 0).toISOString();
    mockDetailApi({
      status: "sending",
      send_window: { start: "08:00", end: "20:00" },
      waiting_for_window: 1234,
      next_window_opens_at: opens,
      stats: { total: 1300, pending: 1234, sending: 0, sent: 66, failed: 0, cancelled: 0, delivered: 0, undelivered: 0 },
    });
    renderDetail();
    const line = await screen.findByTestId("waiting-for-window");
    expect(line).toHaveRole("status");
    expect(line).toHaveTextContent(
      `${(1234).toLocaleString()} messages wait for their recipient's send window; the next opens at 3 Dec 2099 08:00.`,
    );
    expect(line.querySelector("time")).toHaveAttribute("dateTime", opens);
  });

  it("words one waiting message, and no next opening when the API has none", async () => {
    mockDetailApi({ status: "sending", waiting_for_window: 1, next_window_opens_at: null });
    renderDetail();
    expect(await screen.findByTestId("waiting-for-window")).toHaveTextContent(
      /^1 message waits for its recipient's send window\.$/,
    );
  });

  it("shows the approved WhatsApp template with its parameters", async () => {
    mockDetailApi({
      channel: "whatsapp",
      whatsapp_template: { name: "spring_sale", language: "en", body_params: ["{first_name}", "{location}"] },
    });
    renderDetail();
    const template = await screen.findByTestId("whatsapp-template");
    expect(template).toHaveTextContent("spring_sale (en)");
    expect(template).not.toHaveTextContent("Twilio");
    expect(within(template).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "{{1}} = {first_name}",
      "{{2}} = {location}",
    ]);
  });

  it("words EXPIRED and OPTED_OUT failures in the messages table", async () => {
    mockDetailApi(
      { status: "sent" },
      {
        messages: [
          message({ id: 1, error_code: "EXPIRED", last_error: "campaign expired" }),
          message({ id: 2, error_code: "OPTED_OUT", last_error: "customer opted out" }),
        ],
      },
    );
    renderDetail();
    const table = await screen.findByRole("table", { name: "Messages" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(within(rows[0]!).getByText("Campaign expired before sending")).toBeInTheDocument();
    expect(within(rows[0]!).getByText("EXPIRED").tagName).toBe("CODE");
    expect(within(rows[1]!).getByText("Customer opted out")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("OPTED_OUT").tagName).toBe("CODE");
  });
});
