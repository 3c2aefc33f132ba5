// Runs every operation of src/operations.ts against a running Storefront and prints the
// results as one JSON document on standard output.
//
//   STOREFRONT_URL=http://127.0.0.1:8000/graphql STOREFRONT_LOGIN=admin \
//   STOREFRONT_PASSWORD=... npm run demo
//
// It reads the feed, the page of the feed's first author, signs in (logIn), asks who it
// is signed in as (viewer), then orders one unit of a product in stock, twice with the
// same idempotency key: the retry returns the first order instead of placing another.
import { randomUUID } from 'node:crypto';

import { StorefrontClient, StorefrontError } from './client';
import manifest from './gql/persisted-documents.json' with { type: 'json' };
import {
  FeedQuery,
  LogInMutation,
  PlaceOrderMutation,
  ProductsInStockQuery,
  UserPageQuery,
  ViewerQuery,
} from './operations';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function main(): Promise<void> {
  const url = process.env['STOREFRONT_URL'] || 'http://127.0.0.1:8000/graphql';
  const login = required('STOREFRONT_LOGIN');
  const password = required('STOREFRONT_PASSWORD');
  const client = new StorefrontClient({ url, manifest });

  const feed = await client.execute(FeedQuery, { first: 5 });

  const logIn = await client.execute(LogInMutation, { input: { login, password } });
  if (!logIn.logIn.token) {
    const problems = logIn.logIn.userErrors.map((error) => `${error.code}: ${error.message}`);
    throw new Error(`logIn refused: ${problems.join('; ')}`);
  }
  client.token = logIn.logIn.token;
  const { viewer } = await client.execute(ViewerQuery);
  if (!viewer) throw new Error('the token signs nobody in');

  // The page of the feed's first author, or the viewer's own when the feed is empty.
  const username = feed.posts.edges[0]?.node.author.username ?? viewer.username;
  const userPage = await client.execute(UserPageQuery, { username, first: 3 });

  const products = await client.execute(ProductsInStockQuery, { first: 1 });
  const inStock = products.products.edges[0]?.node;
  if (!inStock) throw new Error('no product is in stock');
  const input = {
    items: [{ productId: inStock.id, quantity: 1 }],
    idempotencyKey: `demo-${randomUUID()}`,
  };
  const placed = await client.execute(PlaceOrderMutation, { input });
  const retried = await client.execute(PlaceOrderMutation, { input });

  const report = {
    url,
    feed: feed.posts,
    userPage: userPage.user,
    // The token is a secret: say only that one came back.
    logIn: { token: '<received>', user: logIn.logIn.user, userErrors: logIn.logIn.userErrors },
    viewer,
    product: inStock,
    placeOrder: placed.placeOrder,
    retry: {
      idempotencyKey: input.idempotencyKey,
      sameOrder:
        placed.placeOrder.order !== null &&
        placed.placeOrder.order.id === retried.placeOrder.order?.id,
      placeOrder: retried.placeOrder,
    },
    requests: client.sent,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof StorefrontError) {
    process.stderr.write(`demo: ${error.message} (HTTP ${error.status})\n`);
  } else {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
