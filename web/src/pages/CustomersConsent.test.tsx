// The Customers page's compliance side: opt-out state, opt-out and opt-in, the consent
// filter, the consent history, and the create form's time zone and phone errors.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { Customer, CustomerDetail } from "../api/models";
import { apiError, mockApi } from "../test/api";
import { customer, page } from "../test/factories";
import { renderRoute } from "../test/render";
import { formatDateTime } from "../lib/format";
import { CustomersPage } from "./CustomersPage";

const renderPage = (route = "/customers") => renderRoute(<CustomersPage />, { route, path: "/customers" });

const OPTED_OUT_AT = "2026-11-30T18:45:00Z";

const detailOf = (c: Customer, history: CustomerDetail["consent_history"] = []): CustomerDetail => ({
  ...c,
  consent_history: history,
});

/** A small API with state: the list, the detail, opt-out and opt-in all see the same customers. */
function consentApi(initial: Customer[]) {
  let everyone = initial;
  const history = new Map<number, CustomerDetail["consent_history"]>();
  const find = (id: number) => everyone.find((c) => c.id === id)!;
  const set = (id: number, optedOut: boolean) => {
    const now = "2026-12-02T19:00:00Z";
    everyone = everyone.map((c) => (c.id === id ? { ...c, opted_out_at: optedOut ? now : null } : c));
    history.set(id, [{ opted_out: optedOut, source: "api", detail: null, at: now }, ...(history.get(id) ?? [])]);
    return HttpResponse.json(detailOf(find(id), history.get(id)));
  };
  return mockApi(
    http.get("/customers", ({ request }) => {
      const optedOut = new URL(request.url).searchParams.get("opted_out");
      const shown =
        optedOut === null ? everyone : everyone.filter((c) => (c.opted_out_at !== null) === (optedOut === "true"));
      return HttpResponse.json(page(shown));
    }),
    http.get("/customers/:id", ({ params }) =>
      HttpResponse.json(detailOf(find(Number(params.id)), history.get(Number(params.id)))),
    ),
    http.post("/customers/:id/opt-out", ({ params }) => set(Number(params.id), true)),
    http.post("/customers/:id/opt-in", ({ params }) => set(Number(params.id), false)),
  );
}

const ada = customer({ id: 1, first_name: "Ada", last_name: "Lovelace", timezone: "Europe/London" });
const grace = customer({
  id: 2,
  first_name: "Grace",
  last_name: "Hopper",
  phone: "+15550002",
  opted_out_at: OPTED_OUT_AT,
});

const rowOf = (name: string) => screen.getByRole("button", { name: `${name}: details and consent history` }).closest("tr")!;

describe("Customers consent", () => {
  it("shows who opted out, when, and each customer's time zone", async () => {
    consentApi([ada, grace]);
    renderPage();

    await screen.findByText("Ada Lovelace");
    const adaRow = within(rowOf("Ada Lovelace"));
    expect(adaRow.getByText("Subscribed")).toHaveClass("badge");
    expect(adaRow.getByText("Europe/London")).toBeInTheDocument();
    expect(adaRow.getByRole("button", { name: "Opt out Ada Lovelace" })).toBeInTheDocument();

    const graceRow = within(rowOf("Grace Hopper"));
    const badge = graceRow.getByText(/Opted out/, { selector: ".badge" });
    expect(badge).toHaveTextContent(`Opted out ${formatDateTime(OPTED_OUT_AT)}`);
    expect(badge.querySelector("time")).toHaveAttribute("dateTime", OPTED_OUT_AT);
    expect(graceRow.getByRole("button", { name: "Opt in Grace Hopper" })).toBeInTheDocument();
    expect(graceRow.queryByText("Subscribed")).not.toBeInTheDocument();
  });

  it("opts a customer out with one POST and refreshes the list", async () => {
    const api = consentApi([ada, grace]);
    const user = userEvent.setup();
    renderPage();

    await user.click(await screen.findByRole("button", { name: "Opt out Ada Lovelace" }));

    await waitFor(() => expect(within(rowOf("Ada Lovelace")).getByText(/Opted out/, { selector: ".badge" })).toBeInTheDocument());
    expect(api.to("POST", "/customers/1/opt-out")).toHaveLength(1);
    expect(api.to("POST", "/customers/1/opt-in")).toHaveLength(0);
    // The list was fetched again after the change.
    expect(api.to("GET", "/customers").length).toBeGreaterThanOrEqual(2);
    expect(within(rowOf("Ada Lovelace")).getByRole("button", { name: "Opt in Ada Lovelace" })).toBeInTheDocument();
  });

  it("opts a customer back in only after a confirmation", async () => {
    const api = consentApi([ada, grace]);
    const user = userEvent.setup();
    renderPage();

    await user.click(await screen.findByRole("button", { name: "Opt in Grace Hopper" }));
    expect(api.to("POST", "/customers/2/opt-in")).toHaveLength(0);
    const confirm = within(rowOf("Grace Hopper")).getByRole("group", { name: "Opt Grace Hopper back in" });

    // Changing one's mind sends nothing.
    await user.click(within(confirm).getByRole("button", { name: "Keep opted out" }));
    expect(api.to("POST", "/customers/2/opt-in")).toHaveLength(0);

    await user.click(within(rowOf("Grace Hopper")).getByRole("button", { name: "Opt in Grace Hopper" }));
    await user.click(screen.getByRole("button", { name: "Confirm opt in" }));
    await waitFor(() => expect(within(rowOf("Grace Hopper")).getByText("Subscribed")).toBeInTheDocument());
    expect(api.to("POST", "/customers/2/opt-in")).toHaveLength(1);
    expect(api.to("POST", "/customers/2/opt-out")).toHaveLength(0);
  });

  it("shows why an opt-out failed", async () => {
    mockApi(
      http.get("/customers", () => HttpResponse.json(page([ada]))),
      http.post("/customers/1/opt-out", () => apiError(404, "CUSTOMER_NOT_FOUND", "Customer 1 not found")),
    );
    const user = userEvent.setup();
    renderPage();
    await user.click(await screen.findByRole("button", { name: "Opt out Ada Lovelace" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Customer 1 not found");
    expect(within(rowOf("Ada Lovelace")).getByText("Subscribed")).toBeInTheDocument();
  });

  it("filters by consent with opted_out=true|false, kept in the URL", async () => {
    const api = consentApi([ada, grace]);
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");
    const filter = screen.getByLabelText("Consent");
    expect(filter).toHaveValue("");
    expect(api.to("GET", "/customers")[0]!.query.has("opted_out")).toBe(false);

    await user.selectOptions(filter, "Opted out");
    await waitFor(() => expect(screen.queryByText("Ada Lovelace")).not.toBeInTheDocument());
    expect(screen.getByText("Grace Hopper")).toBeInTheDocument();
    expect(api.to("GET", "/customers").at(-1)!.query.get("opted_out")).toBe("true");
    expect(screen.getByTestId("location")).toHaveTextContent("/customers?opted_out=true");
    expect(screen.getByText("1 customer opted out")).toBeInTheDocument();

    await user.selectOptions(filter, "Opted in");
    await waitFor(() => expect(screen.queryByText("Grace Hopper")).not.toBeInTheDocument());
    expect(screen.getByText("Ada Lovelace")).toBeInTheDocument();
    expect(api.to("GET", "/customers").at(-1)!.query.get("opted_out")).toBe("false");

    await user.selectOptions(filter, "All customers");
    await screen.findByText("Grace Hopper");
    expect(api.to("GET", "/customers").at(-1)!.query.has("opted_out")).toBe(false);
    expect(screen.getByTestId("location")).toHaveTextContent(/^\/customers$/);
  });

  it("reads the filter from the URL, and keeps it while searching", async () => {
    const api = consentApi([ada, grace]);
    const user = userEvent.setup();
    renderPage("/customers?opted_out=true");
    await screen.findByText("Grace Hopper");
    expect(screen.getByLabelText("Consent")).toHaveValue("true");
    expect(api.to("GET", "/customers")[0]!.query.get("opted_out")).toBe("true");

    await user.type(screen.getByLabelText("Search"), "gr");
    await waitFor(() => expect(api.to("GET", "/customers").at(-1)!.query.get("q")).toBe("gr"));
    expect(api.to("GET", "/customers").at(-1)!.query.get("opted_out")).toBe("true");
  });

  it("says when no one has opted out", async () => {
    consentApi([ada]);
    renderPage("/customers?opted_out=true");
    expect(await screen.findByText("No one has opted out")).toBeInTheDocument();
  });

  it("shows the consent history, newest first, in a drawer that can change it", async () => {
    mockApi(
      http.get("/customers", () => HttpResponse.json(page([grace]))),
      http.get("/customers/2", () =>
        HttpResponse.json(
          detailOf(grace, [
            { opted_out: true, source: "inbound", detail: "STOP", at: "2026-11-30T18:45:00Z" },
            { opted_out: false, source: "api", detail: null, at: "2026-11-20T09:00:00Z" },
            { opted_out: true, source: "provider", detail: "twilio 21610", at: "2026-11-01T12:00:00Z" },
          ]),
        ),
      ),
    );
    const user = userEvent.setup();
    renderPage();
    await user.click(await screen.findByRole("button", { name: "Grace Hopper: details and consent history" }));

    const drawer = screen.getByRole("dialog", { name: "Grace Hopper" });
    expect(drawer).toHaveClass("modal--drawer");
    const history = await within(drawer).findByRole("table", { name: "Consent history" });
    const rows = within(history).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getAllByRole("cell").slice(1).map((c) => c.textContent))).toEqual([
      ["Opted out", "Inbound message", "STOP"],
      ["Opted in", "Dashboard or API", "—"],
      ["Opted out", "Provider", "twilio 21610"],
    ]);
    expect(within(rows[0]!).getAllByRole("cell")[0]!.querySelector("time")).toHaveAttribute(
      "dateTime",
      "2026-11-30T18:45:00Z",
    );
    expect(within(drawer).getByText(/Opted out/, { selector: ".badge" })).toBeInTheDocument();
    expect(within(drawer).getByRole("button", { name: "Opt in Grace Hopper" })).toBeInTheDocument();
  });

  it("says when a customer has no consent changes yet", async () => {
    mockApi(
      http.get("/customers", () => HttpResponse.json(page([ada]))),
      http.get("/customers/1", () => HttpResponse.json(detailOf(ada))),
    );
    const user = userEvent.setup();
    renderPage();
    await user.click(await screen.findByRole("button", { name: "Ada Lovelace: details and consent history" }));
    const drawer = screen.getByRole("dialog", { name: "Ada Lovelace" });
    expect(await within(drawer).findByText("No opt-outs or opt-ins recorded.")).toBeInTheDocument();
    expect(within(drawer).getByText("Europe/London")).toBeInTheDocument();
  });
});

describe("Customers create: time zone and phone errors", () => {
  it("sends the time zone when one is given", async () => {
    const api = mockApi(
      http.get("/customers", () => HttpResponse.json(page([ada]))),
      http.post("/customers", () =>
        HttpResponse.json(customer({ id: 9, first_name: "Wanjiru", timezone: "Africa/Nairobi" }), { status: 201 }),
      ),
    );
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");
    await user.click(screen.getByRole("button", { name: "Add customer" }));
    await user.type(screen.getByLabelText("Phone"), "0712 345678");
    await user.type(screen.getByLabelText(/First name/), "Wanjiru");
    await user.type(screen.getByLabelText(/Time zone/), " Africa/Nairobi ");
    const form = screen.getByRole("form", { name: "Add a customer" });
    await user.click(within(form).getByRole("button", { name: "Add customer" }));

    await within(form).findByRole("status");
    expect(api.to("POST", "/customers")[0]!.body).toEqual({
      phone: "0712 345678",
      first_name: "Wanjiru",
      timezone: "Africa/Nairobi",
    });
  });

  it("shows the API's phone and time zone errors on their fields", async () => {
    mockApi(
      http.get("/customers", () => HttpResponse.json(page([ada]))),
      http.post("/customers", () =>
        apiError(422, "VALIDATION_ERROR", "Invalid request", [
          { field: "phone", message: "'+999 123' is not a valid phone number" },
          { field: "timezone", message: "'Mars/Olympus' is not an IANA time zone" },
        ]),
      ),
    );
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");
    await user.click(screen.getByRole("button", { name: "Add customer" }));
    const phone = screen.getByLabelText("Phone");
    await user.type(phone, "+999 123");
    await user.type(screen.getByLabelText(/Time zone/), "Mars/Olympus");
    const form = screen.getByRole("form", { name: "Add a customer" });
    await user.click(within(form).getByRole("button", { name: "Add customer" }));

    await waitFor(() => expect(phone).toHaveAttribute("aria-invalid", "true"));
    expect(phone).toHaveAccessibleDescription(expect.stringContaining("'+999 123' is not a valid phone number"));
    expect(phone).toHaveFocus();
    expect(screen.getByLabelText(/Time zone/)).toHaveAccessibleDescription(
      expect.stringContaining("'Mars/Olympus' is not an IANA time zone"),
    );
  });
});
