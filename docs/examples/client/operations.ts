// The example's operations, typed by GraphQL Code Generator (client preset) from schema.graphql: run
// `npm run codegen` after changing them; CI checks that gql/ is up to date and that this type-checks.
import { graphql } from './gql/index.js';

export const PlaceOrder = graphql(`
  mutation PlaceOrder($input: CreateOrderInput!) {
    createOrder(input: $input) {
      orderId
      consistencyToken
    }
  }
`);

export const CustomerOrders = graphql(`
  query CustomerOrders($customerId: ID!) {
    customerOrders(customerId: $customerId) {
      total
      items {
        id
        status
        fulfilment
        totalAmount
      }
    }
  }
`);

export const OrderChanged = graphql(`
  subscription OrderChanged($id: ID!) {
    orderChanged(id: $id) {
      id
      version
      status
    }
  }
`);

/** An order of one line, for the examples. */
export const anOrder = (customerId: string) => ({
  customerId,
  items: [{ productId: 'espresso-beans', quantity: 1, unitPrice: '12.50' }],
  shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
});
