/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Feed($first: Int!, $after: String) {\n    posts(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          title\n          publishedAt\n          author {\n            username\n          }\n          tags {\n            name\n          }\n        }\n      }\n    }\n  }\n": typeof types.FeedDocument,
    "\n  query UserPage($username: String!, $first: Int!) {\n    user(username: $username) {\n      id\n      username\n      fullName\n      createdAt\n      postCount\n      posts(first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            title\n            createdAt\n            tags {\n              name\n            }\n          }\n        }\n      }\n    }\n  }\n": typeof types.UserPageDocument,
    "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n      userErrors {\n        field\n        code\n        message\n      }\n    }\n  }\n": typeof types.LogInDocument,
    "\n  query Viewer {\n    viewer {\n      id\n      username\n      email\n    }\n  }\n": typeof types.ViewerDocument,
    "\n  query ProductsInStock($first: Int!) {\n    products(first: $first, inStock: true) {\n      edges {\n        node {\n          id\n          sku\n          name\n          price\n          stock\n        }\n      }\n    }\n  }\n": typeof types.ProductsInStockDocument,
    "\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      order {\n        id\n        status\n        createdAt\n        itemCount\n        total\n        items {\n          quantity\n          unitPrice\n          subtotal\n          product {\n            sku\n            name\n          }\n        }\n      }\n      userErrors {\n        field\n        code\n        message\n      }\n    }\n  }\n": typeof types.PlaceOrderDocument,
};
const documents: Documents = {
    "\n  query Feed($first: Int!, $after: String) {\n    posts(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          title\n          publishedAt\n          author {\n            username\n          }\n          tags {\n            name\n          }\n        }\n      }\n    }\n  }\n": types.FeedDocument,
    "\n  query UserPage($username: String!, $first: Int!) {\n    user(username: $username) {\n      id\n      username\n      fullName\n      createdAt\n      postCount\n      posts(first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            title\n            createdAt\n            tags {\n              name\n            }\n          }\n        }\n      }\n    }\n  }\n": types.UserPageDocument,
    "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n      userErrors {\n        field\n        code\n        message\n      }\n    }\n  }\n": types.LogInDocument,
    "\n  query Viewer {\n    viewer {\n      id\n      username\n      email\n    }\n  }\n": types.ViewerDocument,
    "\n  query ProductsInStock($first: Int!) {\n    products(first: $first, inStock: true) {\n      edges {\n        node {\n          id\n          sku\n          name\n          price\n          stock\n        }\n      }\n    }\n  }\n": types.ProductsInStockDocument,
    "\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      order {\n        id\n        status\n        createdAt\n        itemCount\n        total\n        items {\n          quantity\n          unitPrice\n          subtotal\n          product {\n            sku\n            name\n          }\n        }\n      }\n      userErrors {\n        field\n        code\n        message\n      }\n    }\n  }\n": types.PlaceOrderDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Feed($first: Int!, $after: String) {\n    posts(first: $first, after: $after) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          title\n          publishedAt\n          author {\n            username\n          }\n          tags {\n            name\n          }\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').FeedDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query UserPage($username: String!, $first: Int!) {\n    user(username: $username) {\n      id\n      username\n      fullName\n      createdAt\n      postCount\n      posts(first: $first) {\n        totalCount\n        edges {\n          node {\n            id\n            title\n            createdAt\n            tags {\n              name\n            }\n          }\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').UserPageDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      token\n      user {\n        id\n        username\n      }\n      userErrors {\n        field\n        code\n        message\n      }\n    }\n  }\n"): typeof import('./graphql').LogInDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer {\n      id\n      username\n      email\n    }\n  }\n"): typeof import('./graphql').ViewerDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ProductsInStock($first: Int!) {\n    products(first: $first, inStock: true) {\n      edges {\n        node {\n          id\n          sku\n          name\n          price\n          stock\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').ProductsInStockDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      order {\n        id\n        status\n        createdAt\n        itemCount\n        total\n        items {\n          quantity\n          unitPrice\n          subtotal\n          product {\n            sku\n            name\n          }\n        }\n      }\n      userErrors {\n        field\n        code\n        message\n      }\n    }\n  }\n"): typeof import('./graphql').PlaceOrderDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
