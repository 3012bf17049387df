// The admin's plan and billing page in the journey, once the school has a tutor, material, a student's
// conversation and three people: the plan in force, a bar for each of its limits, the plans side by side. Upgrading
// to Pro opens Stripe Checkout: the server's fake Stripe (tests/api/browser.rs sells basic and pro) answers with a
// checkout.stripe.test address, and the browser is handed a stand-in page for it, so nothing leaves the machine.
// Stripe's way back (`/#/billing?checkout=cancelled`) then brings the admin to the page again, told so.

export const CHECKOUT = "https://checkout.stripe.test/c/pay/cs_test_1";

/**
 * Runs as `admin` (a page showing the app's navigation), with the journey's `step`, `check` (axe and photographs)
 * and `assert`; `leaveFor(host)` tells the journey the admin's page goes to `host` on purpose.
 */
export async function adminBilling(admin, { step, check, assert, leaveFor }) {
  step("the admin's plan and billing page: the Free plan, a bar for each limit, the plans side by side");
  await admin.getByRole("link", { name: "Plan & billing", exact: true }).click();
  await admin.waitForURL(/\/billing$/);
  await admin.getByRole("heading", { name: "Plan & billing", level: 1 }).waitFor();
  await admin.locator(".plan-name").filter({ hasText: /^Free$/ }).waitFor();
  const bars = admin.locator(".usage-list [role=progressbar]");
  await bars.nth(3).waitFor();
  const usage = Object.fromEntries(await bars.evaluateAll((all) => all.map((bar) => [
    document.getElementById(bar.getAttribute("aria-labelledby")).textContent,
    { now: Number(bar.getAttribute("aria-valuenow")), max: Number(bar.getAttribute("aria-valuemax")),
      text: bar.getAttribute("aria-valuetext") },
  ])));
  const seen = JSON.stringify(usage);
  assert(Object.keys(usage).length >= 4, `a bar for each limit: ${seen}`);
  assert(/^1 of 3 tutors$/.test(usage.Tutors.text), `one tutor of Free's three: ${seen}`);
  assert(usage["Messages this month"].now >= 3 && usage["Messages this month"].max === 1000, `the questions: ${seen}`);
  assert(usage["Material stored"].now > 0 && / of 100 MB$/.test(usage["Material stored"].text), `material: ${seen}`);
  assert(/ of 25 people$/.test(usage.People.text) && usage.People.now >= 3, `the three people: ${seen}`);
  const plans = admin.locator(".plans > li");
  assert((await plans.count()) === 4, "four plans side by side");
  await plans.filter({ hasText: "Free" }).getByText("Your plan").waitFor();
  await admin.getByRole("button", { name: "Upgrade to Basic" }).waitFor();
  assert((await admin.getByRole("button", { name: "Upgrade to Enterprise" }).count()) === 0, "Enterprise not sold");
  await plans.filter({ hasText: "Enterprise" }).getByText("Not sold online here.").waitFor();
  await check(admin, "billing");

  step("Upgrade to Pro sends the admin to Stripe Checkout; Stripe's way back says the checkout was cancelled");
  leaveFor(new URL(CHECKOUT).hostname);
  await admin.route("https://checkout.stripe.test/**", (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: "<h1>Fake Checkout</h1>" }));
  await admin.getByRole("button", { name: "Upgrade to Pro" }).click();
  await admin.waitForURL((url) => url.href.startsWith(CHECKOUT));
  await admin.getByRole("heading", { name: "Fake Checkout" }).waitFor();
  assert(admin.url().startsWith(CHECKOUT), `at Checkout: ${admin.url()}`);
  await admin.unroute("https://checkout.stripe.test/**");
  await admin.goto("/#/billing?checkout=cancelled");
  await admin.waitForURL(/\/billing\?checkout=cancelled$/);
  await admin.getByText("Checkout cancelled. Nothing was charged.").waitFor();
  await admin.locator(".plan-name").filter({ hasText: /^Free$/ }).waitFor();
}
