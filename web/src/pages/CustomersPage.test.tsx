import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CustomerCreate } from "../api/queries";
import { apiError, mockApi, mockUpload } from "../test/api";
import { customer, customerImportResult, page } from "../test/factories";
import { renderRoute } from "../test/render";
import { CustomersPage } from "./CustomersPage";

const renderPage = (route = "/customers") => renderRoute(<CustomersPage />, { route, path: "/customers" });

const ada = customer({ id: 1, first_name: "Ada", last_name: "Lovelace", phone: "+15550001", location: "London" });
const grace = customer({
  id: 2,
  first_name: "Grace",
  last_name: "Hopper",
  phone: "+15550002",
  location: null,
  preferred_product: null,
});

/** GET /customers: everyone, or those whose first name contains `q`. */
const listHandler = (everyone = [ada, grace]) =>
  http.get("/customers", ({ request }) => {
    const q = new URL(request.url).searchParams.get("q")?.toLowerCase();
    const found = q ? everyone.filter((c) => c.first_name?.toLowerCase().includes(q)) : everyone;
    return HttpResponse.json(page(found));
  });

const searches = (api: ReturnType<typeof mockApi>) =>
  api
    .to("GET", "/customers")
    .map((r) => r.query.get("q"))
    .filter((q) => q !== null);

describe("CustomersPage list", () => {
  it("lists customers with their fields, the total and the page", async () => {
    mockApi(
      http.get("/customers", () =>
        HttpResponse.json(
          page([ada, grace, customer({ id: 3, first_name: null, last_name: null, phone: "+15550003" })], {
            total_count: 43,
            total_pages: 3,
            next_cursor: "c2",
          }),
        ),
      ),
    );
    renderPage();

    const rows = await screen.findAllByRole("row");
    expect(rows).toHaveLength(4); // header + 3
    const first = within(rows[1]!);
    expect(first.getByText("Ada Lovelace")).toBeInTheDocument();
    expect(first.getByText("+15550001")).toBeInTheDocument();
    expect(first.getByText("London")).toBeInTheDocument();
    expect(first.getByText("engines")).toBeInTheDocument();
    const second = within(rows[2]!);
    expect(second.getByText("Grace Hopper")).toBeInTheDocument();
    expect(second.getAllByText("—")).toHaveLength(3); // no location, no product, no time zone
    expect(within(rows[3]!).getByText("Customer #3")).toBeInTheDocument();
    expect(screen.getByText("43 customers")).toBeInTheDocument();
    expect(screen.getByText("Page 1 of 3")).toBeInTheDocument();
  });

  it("shows an empty state whose buttons open the create form and the import", async () => {
    mockApi(http.get("/customers", () => HttpResponse.json(page([], { total_count: 0, total_pages: 0 }))));
    const user = userEvent.setup();
    renderPage();

    expect(await screen.findByText("No customers yet")).toBeInTheDocument();
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Add a customer" }));
    expect(screen.getByRole("form", { name: "Add a customer" })).toBeInTheDocument();
    expect(screen.getByLabelText("Phone")).toHaveFocus();
    expect(screen.getByRole("button", { name: "Add customer", expanded: true })).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Import a CSV file" }));
    expect(screen.queryByRole("form", { name: "Add a customer" })).not.toBeInTheDocument();
    expect(screen.getByRole("form", { name: "Import customers from CSV" })).toBeInTheDocument();
    expect(screen.getByLabelText("CSV file")).toHaveFocus();

    await user.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("form")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Import CSV", expanded: false })).toHaveFocus();
  });

  it("searches with q once typing pauses, and keeps the search in the URL", async () => {
    const api = mockApi(listHandler());
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");

    await user.type(screen.getByLabelText("Search"), "gra");
    expect(searches(api)).toEqual([]); // nothing while typing

    await waitFor(() => expect(screen.queryByText("Ada Lovelace")).not.toBeInTheDocument());
    expect(screen.getByText("Grace Hopper")).toBeInTheDocument();
    expect(searches(api)).toEqual(["gra"]); // one request for three keystrokes
    expect(screen.getByTestId("location")).toHaveTextContent("/customers?q=gra");
    expect(screen.getByText("1 customer matching “gra”")).toBeInTheDocument();
  });

  it("reads the search from the URL and offers to clear a search that found no one", async () => {
    const api = mockApi(listHandler());
    const user = userEvent.setup();
    renderPage("/customers?q=zed");

    expect(await screen.findByText("No customers match “zed”")).toBeInTheDocument();
    expect(screen.getByLabelText("Search")).toHaveValue("zed");
    expect(api.to("GET", "/customers")[0]!.query.get("q")).toBe("zed");

    await user.click(screen.getByRole("button", { name: "Clear search" }));
    expect(await screen.findByText("Ada Lovelace")).toBeInTheDocument();
    expect(screen.getByLabelText("Search")).toHaveValue("");
    expect(screen.getByTestId("location")).toHaveTextContent(/^\/customers$/);
    expect(api.to("GET", "/customers").at(-1)!.query.get("q")).toBeNull();
  });

  it("pages forward with the cursor and back with page + snapshot_id, keeping the search", async () => {
    const api = mockApi(
      http.get("/customers", ({ request }) =>
        new URL(request.url).searchParams.get("cursor") === "cursor-2"
          ? HttpResponse.json(
              page([customer({ id: 21, first_name: "Second", last_name: "Page" })], {
                page: 2,
                total_count: 21,
                total_pages: 2,
                snapshot_id: 40,
              }),
            )
          : HttpResponse.json(
              page([customer({ id: 1, first_name: "First", last_name: "Page" })], {
                total_count: 21,
                total_pages: 2,
                snapshot_id: 40,
                next_cursor: "cursor-2",
              }),
            ),
      ),
    );
    const user = userEvent.setup();
    renderPage("/customers?q=page");
    await screen.findByText("First Page");

    await user.click(screen.getByRole("button", { name: "Next →" }));
    await screen.findByText("Second Page");
    const next = api.to("GET", "/customers").at(-1)!;
    expect(next.query.get("cursor")).toBe("cursor-2");
    expect(next.query.get("q")).toBe("page");
    expect(next.query.get("page_size")).toBe("20");
    expect(screen.getByText("Page 2 of 2")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "← Prev" }));
    await screen.findByText("First Page");
    const prev = api.to("GET", "/customers").at(-1)!;
    expect(prev.query.get("page")).toBe("1");
    expect(prev.query.get("snapshot_id")).toBe("40");
    expect(prev.query.get("q")).toBe("page");
    expect(prev.query.get("cursor")).toBeNull();
  });

  it("shows an error with retry when the API is down", async () => {
    let calls = 0;
    mockApi(
      http.get("/customers", () => {
        calls += 1;
        return calls === 1 ? HttpResponse.error() : HttpResponse.json(page([ada]));
      }),
    );
    const user = userEvent.setup();
    renderPage();

    expect(await screen.findByText("The API is unreachable")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Ada Lovelace")).toBeInTheDocument();
  });
});

describe("CustomersPage create", () => {
  it("posts the filled fields, confirms, and refreshes the list", async () => {
    const created = customer({ id: 9, first_name: "Katherine", last_name: "Johnson", phone: "+15550009" });
    let everyone = [ada];
    const api = mockApi(
      http.get("/customers", () => HttpResponse.json(page(everyone))),
      http.post("/customers", () => {
        everyone = [created, ...everyone];
        return HttpResponse.json(created, { status: 201 });
      }),
    );
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");

    await user.click(screen.getByRole("button", { name: "Add customer" }));
    await user.type(screen.getByLabelText("Phone"), " +1 555 0009 ");
    await user.type(screen.getByLabelText(/First name/), "Katherine");
    await user.type(screen.getByLabelText(/Last name/), "Johnson");
    await user.type(screen.getByLabelText(/Location/), "   ");
    const form = screen.getByRole("form", { name: "Add a customer" });
    await user.click(within(form).getByRole("button", { name: "Add customer" }));

    expect(await within(form).findByRole("status")).toHaveTextContent("Added Katherine Johnson (+15550009).");
    const body = api.to("POST", "/customers")[0]!.body as CustomerCreate;
    expect(body).toEqual({ phone: "+1 555 0009", first_name: "Katherine", last_name: "Johnson" });
    expect(screen.getByLabelText("Phone")).toHaveValue("");
    expect(await screen.findByText("Katherine Johnson", { selector: ".customer-name" })).toBeInTheDocument();
  });

  it("shows the API's 422 field errors next to their fields", async () => {
    mockApi(
      listHandler(),
      http.post("/customers", () =>
        apiError(422, "VALIDATION_ERROR", "Invalid request", [
          { field: "phone", message: "String should match pattern '^\\+?[0-9]{6,20}$'" },
          { field: "body.first_name", message: "String should have at most 100 characters" },
        ]),
      ),
    );
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");

    await user.click(screen.getByRole("button", { name: "Add customer" }));
    const phone = screen.getByLabelText("Phone");
    await user.type(phone, "12ab");
    await user.type(screen.getByLabelText(/First name/), "Ada");
    const form = screen.getByRole("form", { name: "Add a customer" });
    await user.click(within(form).getByRole("button", { name: "Add customer" }));

    expect(await within(form).findByRole("alert")).toHaveTextContent("Please fix the highlighted fields.");
    expect(phone).toHaveAttribute("aria-invalid", "true");
    expect(phone).toHaveAccessibleDescription(/String should match pattern/);
    expect(phone).toHaveFocus();
    expect(screen.getByLabelText(/First name/)).toHaveAccessibleDescription(
      "String should have at most 100 characters",
    );

    await user.type(phone, "3");
    expect(phone).not.toHaveAttribute("aria-invalid");
    expect(screen.getByLabelText(/First name/)).toHaveAttribute("aria-invalid", "true");
  });

  it("asks for a phone before sending anything", async () => {
    const api = mockApi(listHandler());
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");

    await user.click(screen.getByRole("button", { name: "Add customer" }));
    const form = screen.getByRole("form", { name: "Add a customer" });
    await user.click(within(form).getByRole("button", { name: "Add customer" }));

    expect(within(form).getByText("Enter the customer's phone number.")).toBeInTheDocument();
    expect(screen.getByLabelText("Phone")).toHaveFocus();
    expect(api.to("POST", "/customers")).toHaveLength(0);
  });
});

describe("CustomersPage import", () => {
  const csv = "phone,first_name\n+15550100,New\nnot-a-phone,Bad\n+15550001,Ada\n";

  async function openImport() {
    const user = userEvent.setup();
    renderPage();
    await screen.findByText("Ada Lovelace");
    await user.click(screen.getByRole("button", { name: "Import CSV" }));
    return { user, form: screen.getByRole("form", { name: "Import customers from CSV" }) };
  }

  it("uploads the file as multipart `file` and shows the counts and each bad row", async () => {
    const api = mockApi(listHandler());
    const upload = mockUpload("/customers/import", () =>
      HttpResponse.json(
        customerImportResult({
          created: 1,
          skipped: 1,
          errors: [{ row: 3, message: "phone: String should match pattern '^\\+?[0-9]{6,20}$'" }],
        }),
      ),
    );
    const { user, form } = await openImport();
    const listCalls = api.to("GET", "/customers").length;

    await user.upload(screen.getByLabelText("CSV file"), new File([csv], "people.csv", { type: "text/csv" }));
    await user.click(within(form).getByRole("button", { name: "Import" }));

    const report = await within(form).findByRole("region", { name: "Results for “people.csv”" });
    expect(within(report).getByTestId("import-created")).toHaveTextContent("1");
    expect(within(report).getByTestId("import-skipped")).toHaveTextContent("1");
    expect(within(report).getByTestId("import-bad")).toHaveTextContent("1");
    expect(within(report).getByRole("status")).toHaveTextContent("1 customer created, 1 skipped, 1 row with errors.");
    const rows = within(within(report).getByRole("table")).getAllByRole("row");
    expect(rows).toHaveLength(2);
    expect(within(rows[1]!).getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "3",
      "phone: String should match pattern '^\\+?[0-9]{6,20}$'",
    ]);

    expect(upload.forms).toHaveLength(1);
    const sent = upload.forms[0]!.get("file");
    // A file part, not a text field. (Vitest's jsdom bridge passes it on as a Blob
    // without its name; the browser test sees the real upload.)
    expect(sent).not.toBeNull();
    expect(typeof sent).not.toBe("string");
    expect(await (sent as Blob).text()).toBe(csv);
    // Something was created: the list is fetched again.
    await waitFor(() => expect(api.to("GET", "/customers").length).toBeGreaterThan(listCalls));
    expect(screen.getByLabelText("CSV file")).toHaveValue("");
  });

  it("says how many bad rows were left out of the list", async () => {
    mockApi(listHandler());
    const errors = Array.from({ length: 100 }, (_, i) => ({ row: i + 2, message: "phone: Field required" }));
    mockUpload("/customers/import", () =>
      HttpResponse.json(customerImportResult({ created: 0, errors, errors_not_shown: 250 })),
    );
    const { user, form } = await openImport();

    await user.upload(screen.getByLabelText("CSV file"), new File([csv], "big.csv", { type: "text/csv" }));
    await user.click(within(form).getByRole("button", { name: "Import" }));

    const report = await within(form).findByRole("region", { name: "Results for “big.csv”" });
    expect(within(report).getByTestId("import-bad")).toHaveTextContent("350");
    expect(within(report).getAllByRole("row")).toHaveLength(101);
    expect(report).toHaveTextContent("…and 250 more rows with errors, not listed: the first 100 are shown.");
  });

  it("shows why a whole file was refused", async () => {
    mockApi(listHandler());
    mockUpload("/customers/import", () =>
      apiError(422, "VALIDATION_ERROR", "Unknown CSV column(s): email", [
        { field: "file", message: "allowed columns: first_name, last_name, location, phone, preferred_product" },
      ]),
    );
    const { user, form } = await openImport();

    await user.upload(screen.getByLabelText("CSV file"), new File(["phone,email\n"], "x.csv", { type: "text/csv" }));
    await user.click(within(form).getByRole("button", { name: "Import" }));

    const alert = await within(form).findByRole("alert");
    expect(alert).toHaveTextContent("Nothing was imported: Unknown CSV column(s): email");
    expect(alert).toHaveTextContent("allowed columns: first_name, last_name, location, phone, preferred_product");
    expect(within(form).queryByRole("region")).not.toBeInTheDocument();

    // Choosing another file puts the error away.
    await user.upload(screen.getByLabelText("CSV file"), new File([csv], "fixed.csv", { type: "text/csv" }));
    expect(within(form).queryByRole("alert")).not.toBeInTheDocument();
  });

  it("asks for a file before uploading", async () => {
    mockApi(listHandler());
    const upload = mockUpload("/customers/import", () => HttpResponse.json(customerImportResult()));
    const { user, form } = await openImport();

    await user.click(within(form).getByRole("button", { name: "Import" }));
    expect(within(form).getByText("Choose a CSV file to import.")).toBeInTheDocument();
    expect(screen.getByLabelText("CSV file")).toHaveFocus();
    expect(upload.forms).toHaveLength(0);
  });
});
