import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { TemplatePreviewRequest } from "../api/models";
import { apiError, mockApi } from "../test/api";
import { campaignDetail, customer, page, preview } from "../test/factories";
import { renderRoute } from "../test/render";
import { CreateCampaignPage } from "./CreateCampaignPage";

const renderCreate = () =>
  renderRoute(<CreateCampaignPage />, { route: "/campaigns/new", path: "/campaigns/new" });

const customers = [customer({ id: 7, first_name: "Ada" }), customer({ id: 8, first_name: "Grace", phone: "+15550008" })];

const customersHandler = http.get("/customers", () => HttpResponse.json(page(customers)));

const previewHandler = http.post("/templates/preview", async ({ request }) => {
  const { template, customer_id } = (await request.json()) as TemplatePreviewRequest;
  const name = customer_id === 8 ? "Grace" : "Ada";
  const rendered = template.replaceAll("{first_name}", name);
  return HttpResponse.json(
    preview({
      rendered_message: rendered,
      used_template: template,
      characters: rendered.length,
      segments: rendered.length > 160 ? 2 : 1,
    }),
  );
});

describe("CreateCampaignPage live preview", () => {
  it("debounces typing into a single preview call and shows the segments", async () => {
    const api = mockApi(customersHandler, previewHandler);
    renderCreate();
    await waitFor(() => expect(screen.getByLabelText("Preview as")).toHaveValue("7"));

    // Fast typing: several changes with no time in between.
    const textarea = screen.getByLabelText("Message template");
    const template = "Hi {first_name}, thanks!";
    for (const end of [1, 2, 5, 15, template.length]) {
      fireEvent.change(textarea, { target: { value: template.slice(0, end) } });
    }
    expect(api.to("POST", "/templates/preview")).toHaveLength(0); // nothing before the 300 ms pause

    expect(await screen.findByText("Hi Ada, thanks!")).toBeInTheDocument();
    const calls = api.to("POST", "/templates/preview");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toEqual({ template, customer_id: 7, channel: "sms" });

    const segments = screen.getByText("SMS segments").nextElementSibling;
    expect(segments).toHaveTextContent("1");
    expect(screen.getByText("GSM-7")).toBeInTheDocument();
    expect(screen.getByText("Characters").nextElementSibling).toHaveTextContent(String("Hi Ada, thanks!".length));
  });

  it("re-renders for another customer and shows multi-segment messages", async () => {
    const api = mockApi(customersHandler, previewHandler);
    const user = userEvent.setup();
    renderCreate();
    await waitFor(() => expect(screen.getByLabelText("Preview as")).toHaveValue("7"));

    const long = `{first_name} ${"x".repeat(170)}`;
    fireEvent.change(screen.getByLabelText("Message template"), { target: { value: long } });
    await screen.findByText(`Ada ${"x".repeat(170)}`);
    expect(screen.getByText("SMS segments").nextElementSibling).toHaveTextContent("2");

    await user.selectOptions(screen.getByLabelText("Preview as"), "8");
    expect(await screen.findByText(`Grace ${"x".repeat(170)}`)).toBeInTheDocument();
    expect(api.to("POST", "/templates/preview").at(-1)!.body).toEqual({ template: long, customer_id: 8, channel: "sms" });
  });

  it("shows template errors from the preview endpoint", async () => {
    mockApi(
      customersHandler,
      http.post("/templates/preview", () =>
        apiError(422, "INVALID_TEMPLATE", "Template is invalid", [
          { field: "template", message: "Unclosed placeholder at position 3" },
        ]),
      ),
    );
    renderCreate();
    await waitFor(() => expect(screen.getByLabelText("Preview as")).toHaveValue("7"));
    fireEvent.change(screen.getByLabelText("Message template"), { target: { value: "Hi {first_name" } });

    expect(await screen.findByText("Template can't be rendered")).toBeInTheDocument();
    expect(screen.getByText("Unclosed placeholder at position 3")).toBeInTheDocument();
  });

  it("previews for the chosen channel, whose length bound the API checks", async () => {
    const api = mockApi(
      customersHandler,
      http.post("/templates/preview", async ({ request }) => {
        const { channel } = (await request.json()) as TemplatePreviewRequest;
        return channel === "sms"
          ? apiError(422, "INVALID_TEMPLATE", "The rendered message is 1800 characters long; an SMS may be at most 1600", [
              { field: "template", message: "The rendered message is 1800 characters long; an SMS may be at most 1600" },
            ])
          : HttpResponse.json(preview({ rendered_message: "x".repeat(1800), characters: 1800 }));
      }),
    );
    const user = userEvent.setup();
    renderCreate();
    await waitFor(() => expect(screen.getByLabelText("Preview as")).toHaveValue("7"));
    fireEvent.change(screen.getByLabelText("Message template"), { target: { value: "{location}".repeat(9) } });
    expect(await screen.findByText("Template can't be rendered")).toBeInTheDocument();
    expect(screen.getAllByText(/an SMS may be at most 1600/).length).toBeGreaterThan(0);

    await user.click(screen.getByLabelText("WhatsApp"));
    await waitFor(() => expect(screen.queryByText("Template can't be rendered")).not.toBeInTheDocument());
    expect(api.to("POST", "/templates/preview").at(-1)!.body).toMatchObject({ channel: "whatsapp" });
  });

  it("inserts a placeholder hint at the caret", async () => {
    mockApi(customersHandler, previewHandler);
    const user = userEvent.setup();
    renderCreate();
    const textarea = screen.getByLabelText<HTMLTextAreaElement>("Message template");
    await user.type(textarea, "Hello !");
    textarea.setSelectionRange(6, 6);
    await user.click(await screen.findByRole("button", { name: "{first_name}" }));
    expect(textarea).toHaveValue("Hello {first_name}!");
  });
});

describe("CreateCampaignPage placeholder chips", () => {
  const chipGroup = () => screen.getByRole("group", { name: "Insert placeholder" });

  it("shows the API's placeholders, fetched once", async () => {
    const api = mockApi(
      customersHandler,
      http.get("/templates/placeholders", () =>
        HttpResponse.json({
          placeholders: [
            { name: "first_name", label: "First name" },
            { name: "loyalty_tier", label: "Loyalty tier" },
          ],
        }),
      ),
    );
    const user = userEvent.setup();
    const { queryClient } = renderCreate();
    expect(within(chipGroup()).getByText("Loading placeholders…")).toBeInTheDocument();

    const tier = await within(chipGroup()).findByRole("button", { name: "{loyalty_tier}" });
    expect(tier).toHaveAccessibleDescription("Insert loyalty tier");
    expect(within(chipGroup()).getAllByRole("button").map((b) => b.textContent)).toEqual([
      "{first_name}",
      "{loyalty_tier}",
      "{first_name|there}",
    ]);
    await user.click(tier);
    expect(screen.getByLabelText("Message template")).toHaveValue("{loyalty_tier}");

    // The list never goes stale: refetching every stale query leaves it alone.
    await queryClient.refetchQueries({ stale: true });
    expect(api.to("GET", "/templates/placeholders")).toHaveLength(1);
  });

  it("leaves out the fallback chip when first_name is not a placeholder", async () => {
    mockApi(
      customersHandler,
      http.get("/templates/placeholders", () =>
        HttpResponse.json({ placeholders: [{ name: "phone", label: "Phone" }] }),
      ),
    );
    renderCreate();
    await within(chipGroup()).findByRole("button", { name: "{phone}" });
    expect(within(chipGroup()).getAllByRole("button")).toHaveLength(1);
  });

  it("still lets the template be typed when the placeholders can't be loaded", async () => {
    let calls = 0;
    mockApi(
      customersHandler,
      previewHandler,
      http.get("/templates/placeholders", () => {
        calls += 1;
        return calls === 1
          ? apiError(500, "INTERNAL_ERROR", "Something broke")
          : HttpResponse.json({ placeholders: [{ name: "first_name", label: "First name" }] });
      }),
    );
    const user = userEvent.setup();
    renderCreate();

    expect(await within(chipGroup()).findByText(/Couldn't load the placeholders/)).toBeInTheDocument();
    expect(within(chipGroup()).queryByRole("button", { name: "{first_name}" })).not.toBeInTheDocument();
    fireEvent.change(screen.getByLabelText("Message template"), { target: { value: "Hi {first_name}" } });
    expect(await screen.findByText("Hi Ada")).toBeInTheDocument();

    await user.click(within(chipGroup()).getByRole("button", { name: "Try again" }));
    expect(await within(chipGroup()).findByRole("button", { name: "{first_name}" })).toBeInTheDocument();
  });
});

describe("CreateCampaignPage submit", () => {
  async function fillForm(user: ReturnType<typeof userEvent.setup>) {
    await user.type(screen.getByLabelText("Name"), "Spring sale");
    fireEvent.change(screen.getByLabelText("Message template"), { target: { value: "Hi {nope}" } });
  }

  it("shows 422 details next to the matching field", async () => {
    const api = mockApi(
      customersHandler,
      previewHandler,
      http.post("/campaigns", () =>
        apiError(422, "INVALID_TEMPLATE", "Template is invalid", [
          { field: "base_template", message: "Unknown placeholder {nope}" },
        ]),
      ),
    );
    const user = userEvent.setup();
    renderCreate();
    await fillForm(user);
    await user.click(screen.getByRole("button", { name: "Create campaign" }));

    const templateField = screen.getByLabelText("Message template");
    await waitFor(() => expect(templateField).toHaveAttribute("aria-invalid", "true"));
    expect(templateField).toHaveAccessibleDescription(expect.stringContaining("Unknown placeholder {nope}"));
    expect(templateField).toHaveFocus();
    expect(screen.getByLabelText("Name")).not.toHaveAttribute("aria-invalid");
    expect(screen.getByRole("alert")).toHaveTextContent("Please fix the highlighted fields.");
    expect(screen.getByTestId("location")).toHaveTextContent("/campaigns/new");
    expect(api.to("POST", "/campaigns")[0]!.body).toEqual({
      name: "Spring sale",
      channel: "sms",
      base_template: "Hi {nope}",
    });

    // Editing the field clears its error.
    await user.type(templateField, "!");
    expect(templateField).not.toHaveAttribute("aria-invalid");
  });

  it("maps dotted field locations such as body.name", async () => {
    mockApi(
      customersHandler,
      previewHandler,
      http.post("/campaigns", () =>
        apiError(422, "VALIDATION_ERROR", "Invalid request", [{ field: "body.name", message: "Name already used" }]),
      ),
    );
    const user = userEvent.setup();
    renderCreate();
    await fillForm(user);
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    expect(await screen.findByText("Name already used")).toBeInTheDocument();
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("Name already used");
  });

  it("validates required fields before calling the API", async () => {
    const api = mockApi(customersHandler);
    const user = userEvent.setup();
    renderCreate();
    await user.click(screen.getByRole("button", { name: "Create campaign" }));
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("Give the campaign a name.");
    expect(screen.getByLabelText("Message template")).toHaveAccessibleDescription(
      expect.stringContaining("Write the message template."),
    );
    expect(api.to("POST", "/campaigns")).toHaveLength(0);
  });

  it("creates the campaign with schedule in UTC and navigates to it", async () => {
    const api = mockApi(
      customersHandler,
      previewHandler,
      http.post("/campaigns", () => HttpResponse.json(campaignDetail({ id: 42 }), { status: 201 })),
    );
    const user = userEvent.setup();
    renderCreate();
    await fillForm(user);
    await user.click(screen.getByLabelText("WhatsApp"));
    fireEvent.change(screen.getByLabelText(/Schedule/), { target: { value: "2030-05-01T09:30" } });
    await user.click(screen.getByRole("button", { name: "Create campaign" }));

    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/campaigns/42"));
    expect(api.to("POST", "/campaigns")[0]!.body).toEqual({
      name: "Spring sale",
      channel: "whatsapp",
      base_template: "Hi {nope}",
      scheduled_at: new Date("2030-05-01T09:30").toISOString().replace(".000Z", "Z"),
    });
  });
});
