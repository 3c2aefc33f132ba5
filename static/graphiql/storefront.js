// Starts Storefront's GraphiQL page (graphiql.html): GraphiQL with the explorer plugin,
// talking to the endpoint the page was opened at. It is a file of its own, not an
// inline script, because the page's Content-Security-Policy allows scripts from this
// origin only.
(function () {
  "use strict";

  // GraphiQL's dialogs add a <style> element (react-remove-scroll) and give it the
  // nonce in this global; the page's policy allows styles with the nonce of this
  // script's tag, which the server makes afresh for each response.
  if (document.currentScript && document.currentScript.nonce) {
    window.__webpack_nonce__ = document.currentScript.nonce;
  }

  // What the query editor holds the first time the page opens (GraphiQL then keeps
  // the editors' contents in the browser's local storage).
  var DEFAULT_QUERY = [
    "# Storefront: users, posts, tags, products and orders.",
    "#",
    "# Run the query below: Ctrl-Enter or the \u25B6 button.",
    "# The Explorer (folder icon, left) builds a query as",
    "# you tick fields; Docs (book icon) describes each type.",
    "#",
    "# Sign in with the logIn mutation, by username or email",
    "# (demo data: admin; `cli.py serve` says where its",
    "# password is):",
    "#",
    "#   mutation {",
    '#     logIn(input: {login: "admin", password: "..."}) {',
    "#       token",
    "#       userErrors { message }",
    "#     }",
    "#   }",
    "#",
    "# then paste the token into the Headers tab below:",
    "#",
    '#   {"Authorization": "Bearer <token>"}',
    "#",
    "# Requests from that tab then act as that user: try",
    "# { viewer { username } }. Headers are not saved: after",
    "# a reload, paste the token again. logOut revokes it.",
    "",
    "query Feed {",
    "  posts(first: 10) {",
    "    edges {",
    "      node {",
    "        title",
    "        author {",
    "          username",
    "        }",
    "        tags {",
    "          name",
    "        }",
    "      }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  var root = document.getElementById("graphiql");
  if (!window.React || !window.ReactDOM || !window.GraphiQL || !window.GraphiQLPluginExplorer) {
    document.getElementById("storefront-loading").textContent =
      "GraphiQL's files did not load; the browser's console says why.";
    return;
  }

  // The endpoint is the page's own address without its query string or fragment
  // (/graphql: a browser's GET gets this page, anything else is a GraphQL request);
  // subscriptions use the same path over a WebSocket.
  var endpoint = new URL(window.location.pathname, window.location.href);
  var subscriptions = new URL(endpoint.href);
  subscriptions.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // GraphiQL sends the Headers tab's headers with each HTTP request, but opens the
  // WebSocket with fixed parameters; the service reads a subscription's sign-in from
  // the `connection_init` payload ({"Authorization": "Bearer ..."}). So each set of
  // headers gets a fetcher whose WebSocket sends them, made when first used.
  var fetchers = {};
  function fetcher(params, options) {
    var headers = (options && options.headers) || {};
    var key = JSON.stringify(headers);
    if (!fetchers[key]) {
      fetchers[key] = GraphiQL.createFetcher({
        url: endpoint.href,
        subscriptionUrl: subscriptions.href,
        wsConnectionParams: headers,
      });
    }
    return fetchers[key](params, options);
  }

  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var element = React.createElement(GraphiQL, {
    fetcher: fetcher,
    plugins: [explorer],
    defaultQuery: DEFAULT_QUERY,
    // The Headers tab is open from the start: it is where a sign-in token goes.
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    // A token pasted into the headers stays out of local storage.
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  });
  ReactDOM.createRoot(root).render(element);
})();
