/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type LogInInput = {
  /** username or email */
  login: string;
  password: string;
};

export type OrderLineInput = {
  productId: string | number;
  quantity: number;
};

export type OrderStatus =
  | 'CANCELLED'
  | 'PAID'
  | 'PENDING'
  | 'SHIPPED';

export type PlaceOrderInput = {
  /** Retrying with the same key returns the first order instead of placing another. */
  idempotencyKey?: string | null | undefined;
  items: Array<OrderLineInput>;
};

export type UserErrorCode =
  | 'CONFLICT'
  | 'FORBIDDEN'
  | 'INVALID'
  | 'NOT_FOUND'
  | 'OUT_OF_STOCK'
  | 'TAKEN';

export type FeedQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type FeedQuery = { posts: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, title: string, publishedAt: string | null, author: { username: string }, tags: Array<{ name: string }> } }> } };

export type UserPageQueryVariables = Exact<{
  username: string;
  first: number;
}>;


export type UserPageQuery = { user: { id: string, username: string, fullName: string | null, createdAt: string, postCount: number, posts: { totalCount: number, edges: Array<{ node: { id: string, title: string, createdAt: string, tags: Array<{ name: string }> } }> } } | null };

export type LogInMutationVariables = Exact<{
  input: LogInInput;
}>;


export type LogInMutation = { logIn: { token: string | null, user: { id: string, username: string } | null, userErrors: Array<{ field: Array<string> | null, code: UserErrorCode, message: string }> } };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { id: string, username: string, email: string | null } | null };

export type ProductsInStockQueryVariables = Exact<{
  first: number;
}>;


export type ProductsInStockQuery = { products: { edges: Array<{ node: { id: string, sku: string, name: string, price: string, stock: number } }> } };

export type PlaceOrderMutationVariables = Exact<{
  input: PlaceOrderInput;
}>;


export type PlaceOrderMutation = { placeOrder: { order: { id: string, status: OrderStatus, createdAt: string, itemCount: number, total: string, items: Array<{ quantity: number, unitPrice: string, subtotal: string, product: { sku: string, name: string } }> } | null, userErrors: Array<{ field: Array<string> | null, code: UserErrorCode, message: string }> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const FeedDocument = new TypedDocumentString(`
    query Feed($first: Int!, $after: String) {
  posts(first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        title
        publishedAt
        author {
          username
        }
        tags {
          name
        }
      }
    }
  }
}
    `, {"hash":"sha256:772a9179cea85d36a4ac98d5bead5d25d9a1e8a8310789e5a50c8206ad0f9490"}) as unknown as TypedDocumentString<FeedQuery, FeedQueryVariables>;
export const UserPageDocument = new TypedDocumentString(`
    query UserPage($username: String!, $first: Int!) {
  user(username: $username) {
    id
    username
    fullName
    createdAt
    postCount
    posts(first: $first) {
      totalCount
      edges {
        node {
          id
          title
          createdAt
          tags {
            name
          }
        }
      }
    }
  }
}
    `, {"hash":"sha256:133a954e9cfa55ba3b11cba6c611fe31b50663408842bbc6c2e50b7bd536c502"}) as unknown as TypedDocumentString<UserPageQuery, UserPageQueryVariables>;
export const LogInDocument = new TypedDocumentString(`
    mutation LogIn($input: LogInInput!) {
  logIn(input: $input) {
    token
    user {
      id
      username
    }
    userErrors {
      field
      code
      message
    }
  }
}
    `, {"hash":"sha256:995beb34a9abb7c235925ffb6e0bddd9771a54ca6a8e62664417e38a397d8773"}) as unknown as TypedDocumentString<LogInMutation, LogInMutationVariables>;
export const ViewerDocument = new TypedDocumentString(`
    query Viewer {
  viewer {
    id
    username
    email
  }
}
    `, {"hash":"sha256:acd1b71bd3bd2e7e294d794368661b2e8eccd2e54fba20af247d6447fcc72de2"}) as unknown as TypedDocumentString<ViewerQuery, ViewerQueryVariables>;
export const ProductsInStockDocument = new TypedDocumentString(`
    query ProductsInStock($first: Int!) {
  products(first: $first, inStock: true) {
    edges {
      node {
        id
        sku
        name
        price
        stock
      }
    }
  }
}
    `, {"hash":"sha256:2c7df31b27096d49516314279c01bc8143df49f7bf020bfd200aac27780d70da"}) as unknown as TypedDocumentString<ProductsInStockQuery, ProductsInStockQueryVariables>;
export const PlaceOrderDocument = new TypedDocumentString(`
    mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order {
      id
      status
      createdAt
      itemCount
      total
      items {
        quantity
        unitPrice
        subtotal
        product {
          sku
          name
        }
      }
    }
    userErrors {
      field
      code
      message
    }
  }
}
    `, {"hash":"sha256:654d2b25b82caa17e10e9aa9e55f03a1eac4e62e4490ea6edab95e84eca9c856"}) as unknown as TypedDocumentString<PlaceOrderMutation, PlaceOrderMutationVariables>;