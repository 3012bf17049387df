// The teacher's analytics in the journey, once the student has talked to the tutor and the teacher has made a
// class of them: the figures and charts show that activity, the question groups open, a student's progress page
// and the alerts page load. The groups and alerts may be empty (one student, no safety term matched): either their
// cards or the words saying there are none will do.

/** Runs as `teacher` (a page showing the app's navigation), photographing with the journey's `check`. */
export async function teacherAnalytics(teacher, { step, check }) {
  step("the teacher's analytics: figures and charts of the student's activity, where the class is stuck, gaps");
  await teacher.getByRole("link", { name: "Analytics", exact: true }).click();
  await teacher.getByRole("heading", { name: "Analytics", exact: true }).waitFor();
  await teacher.locator("[data-stat=messages] dd").filter({ hasText: /^[1-9]/ }).waitFor();
  await teacher.locator(".line-chart .chart-plot canvas").waitFor();
  await teacher.getByRole("link", { name: "Professor Python" }).first().waitFor(); // the tutors used most
  await check(teacher, "analytics");
  // Each section asks the server only once opened: its groups, or the words saying there are none.
  const stuck = teacher.locator("details", { hasText: "Where the class is stuck" });
  await stuck.locator("summary").click();
  await stuck.getByText(/^(No question was asked by several students|Questions: \d)/).first().waitFor();
  const gaps = teacher.locator("details", { hasText: "Gaps: what to upload next" });
  await gaps.locator("summary").click();
  await gaps.getByText(/^(Every question found an answer in the material|Not covered: \d)/).first().waitFor();
  await check(teacher, "analytics-groups");
  await teacher.getByRole("button", { name: "Open printable report" }).click();
  await teacher.getByRole("region", { name: "Printable weekly report" }).getByRole("heading", { name: /^Weekly report/ })
    .waitFor();

  step("one student's progress, and the alerts page");
  await teacher.locator(".students-table").getByRole("link", { name: "Jean Student" }).click();
  await teacher.getByRole("heading", { name: "Jean Student", level: 1 }).waitFor();
  await teacher.locator(".line-chart .chart-plot canvas").waitFor();
  await teacher.getByRole("link", { name: "Professor Python" }).first().waitFor(); // their conversations
  await check(teacher, "analytics-student");
  await teacher.getByRole("link", { name: /^Alerts/ }).first().click();
  await teacher.getByRole("heading", { name: "Alerts", exact: true }).waitFor();
  await teacher.getByText(/^No alerts\./).or(teacher.locator(".alert-item").first()).waitFor();
  await check(teacher, "alerts");
}
