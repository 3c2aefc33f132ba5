// Drives Storefront's GraphiQL page in headless Chromium, as a person would: opens it,
// opens the explorer, types a query, runs it, signs in through the Headers tab and
// runs a subscription. Run by tests/test_graphiql.py with NODE_PATH naming a folder
// where playwright-core is installed; it uses Debian's Chromium, never a browser of
// Playwright's own.
//
//   node graphiql_browser.cjs '<config as JSON>'
//
// Prints a JSON report on standard output: every URL the browser asked for, what the
// page logged, and what each step read from the editors. The test judges the report;
// this script fails only when a step cannot be done at all (with the step's name).

"use strict";

const fs = require("fs");
const { chromium } = require("playwright-core");

const config = JSON.parse(process.argv[2]);
const TIMEOUT = 60_000;

const QUERY_EDITOR = "section.graphiql-query-editor .CodeMirror";
// The open tab (Headers, as the page opens it) of the editor tools below the query.
const TOOL_EDITOR = "section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror";
const RESULT = "section.result-window .CodeMirror";
const RUN = "button.graphiql-execute-button";

const report = {
  requests: [],
  websockets: [],
  websocketMessages: [],
  failedRequests: [],
  console: [],
  pageErrors: [],
  steps: {},
};
let step = "start";

function editorText(page, selector) {
  return page.$eval(selector, (element) => element.CodeMirror.getValue());
}

// Types `text` into a CodeMirror editor, key by key, in place of what it held. The
// editors close brackets and quotes as they are opened and step over them when they
// are typed, so balanced text comes out as typed.
async function typeInto(page, selector, text) {
  // Near the editor's top left: its middle may lie under another pane.
  await page.click(selector, { position: { x: 60, y: 12 } });
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.type(text);
  // Autocompletion may have opened a list of suggestions; it must not take the next key.
  await page.keyboard.press("Escape");
  // GraphiQL takes in an edited document (its operation name, the tab's state) 100 ms
  // after the last keystroke; a run before that would send the previous operation name.
  await page.waitForTimeout(500);
  return editorText(page, selector);
}

// Runs the operation in the query editor and waits until the result editor holds
// something else than `before` that contains `expected`.
async function run(page, before, expected) {
  await page.click(RUN);
  await page.waitForFunction(
    ([selector, previous, wanted]) => {
      const editor = document.querySelector(selector);
      const text = editor && editor.CodeMirror.getValue();
      return text && text !== previous && text.includes(wanted);
    },
    [RESULT, before, expected],
    { timeout: TIMEOUT },
  );
  const text = await editorText(page, RESULT);
  return { text, shown: await page.innerText("section.result-window") };
}

async function screenshot(page, name) {
  await page.mouse.move(1380, 880); // no tooltip over the editors
  await page.waitForTimeout(500); // nor one fading out
  fs.mkdirSync(config.screenshotDir, { recursive: true });
  await page.screenshot({ path: `${config.screenshotDir}/${name}` });
}

async function main() {
  const context = await chromium.launchPersistentContext(config.userDataDir, {
    executablePath: config.chromium,
    headless: true,
    args: config.chromiumArgs,
    viewport: { width: 1400, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  context.on("request", (request) => report.requests.push(request.url()));
  context.on("requestfailed", (request) =>
    report.failedRequests.push({ url: request.url(), error: request.failure()?.errorText }),
  );
  const page = context.pages()[0] || (await context.newPage());
  try {
    page.on("websocket", (socket) => {
      report.websockets.push(socket.url());
      socket.on("framesent", (frame) => report.websocketMessages.push(String(frame.payload)));
    });
    page.on("console", (message) =>
      report.console.push({ type: message.type(), text: message.text() }),
    );
    page.on("pageerror", (error) => report.pageErrors.push(String(error)));

    step = "open the page";
    const response = await page.goto(config.url, { waitUntil: "load" });
    report.steps.page = {
      status: response.status(),
      csp: response.headers()["content-security-policy"] || null,
      title: await page.title(),
    };
    await page.waitForSelector(QUERY_EDITOR);
    report.steps.defaultQuery = await editorText(page, QUERY_EDITOR);
    report.steps.openTool = await page.innerText(".graphiql-editor-tools button.active");

    step = "open the explorer";
    await page.click('.graphiql-sidebar button[aria-label="Show GraphiQL Explorer"]');
    // The explorer lists the schema's root fields once GraphiQL has introspected it.
    await page.waitForFunction(
      () => {
        const plugin = document.querySelector(".graphiql-plugin");
        return plugin && /\bposts\b/.test(plugin.innerText) && /\borders\b/.test(plugin.innerText);
      },
      null,
      { timeout: TIMEOUT },
    );
    report.steps.explorer = await page.innerText(".graphiql-plugin");

    step = "type and run the feed query";
    report.steps.typedQuery = await typeInto(page, QUERY_EDITOR, config.query);
    await page.click('button[aria-label^="Prettify query"]');
    report.steps.feed = await run(page, "", config.expectTitle);
    await screenshot(page, "graphiql-feed.png");

    step = "sign in through the Headers tab";
    report.steps.typedHeaders = await typeInto(page, TOOL_EDITOR, config.headers);
    report.steps.typedViewerQuery = await typeInto(page, QUERY_EDITOR, config.viewerQuery);
    report.steps.viewer = await run(page, report.steps.feed.text, config.expectUsername);
    await screenshot(page, "graphiql-signed-in.png");

    step = "run a subscription";
    await typeInto(page, QUERY_EDITOR, config.subscription);
    const beforeSubscription = await editorText(page, RESULT);
    await page.click(RUN);
    // Publish a post from the page itself (same origin, signed in as the tab is) until
    // the subscription shows it: the server may not have registered it yet at first.
    const shown = ([selector, previous, wanted]) => {
      const text = document.querySelector(selector).CodeMirror.getValue();
      return text !== previous && text.includes(wanted);
    };
    const deadline = Date.now() + TIMEOUT;
    report.steps.publish = [];
    for (;;) {
      report.steps.publish.push(
        await page.evaluate(
          async ([url, token, mutation]) => {
            const answer = await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
              body: JSON.stringify({ query: mutation }),
            });
            return answer.json();
          },
          [config.url, config.token, config.publish],
        ),
      );
      const arrived = await page
        .waitForFunction(shown, [RESULT, beforeSubscription, config.expectPublished], {
          timeout: 3000,
        })
        .then(() => true, () => false);
      if (arrived) break;
      if (Date.now() > deadline) throw new Error("the subscription showed no published post");
    }
    report.steps.subscription = await editorText(page, RESULT);
    step = "done";
  } catch (error) {
    report.failedStep = step;
    report.error = String((error && error.stack) || error);
    fs.mkdirSync(config.screenshotDir, { recursive: true });
    await page.screenshot({ path: `${config.screenshotDir}/graphiql-failed.png` }).catch(() => {});
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  process.stderr.write(`failed at step "${step}": ${String((error && error.stack) || error)}`);
  process.exit(1);
});
