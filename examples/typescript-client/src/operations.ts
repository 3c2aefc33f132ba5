// The operations this client runs. graphql-codegen reads them from here and generates
// their types into src/gql/: graphql() returns a typed document (result and variables)
// that carries its persisted-document hash in __meta__.hash.
import { graphql } from './gql';

/** The feed: newest published posts, each with its author and tags. */
export const FeedQuery = graphql(`
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
`);

/** A user's page: the user and their newest posts (a nested connection). */
export const UserPageQuery = graphql(`
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
`);

export const LogInMutation = graphql(`
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
`);

/** Who the Bearer token signs in: null without one. */
export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      id
      username
      email
    }
  }
`);

export const ProductsInStockQuery = graphql(`
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
`);

/** Retrying with the same idempotencyKey returns the first order instead of placing another. */
export const PlaceOrderMutation = graphql(`
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
`);
