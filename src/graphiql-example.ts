// What GraphiQL opens on: the read-your-writes flow, a command that returns its token and the order after it.
export const GRAPHIQL_EXAMPLE = `# A mutation is a command. Selecting \`order\` on its payload waits until the
# read model has caught up with this very command (read-your-writes), so the
# order you get back already shows your change.
mutation PlaceOrder {
  createOrder(input: {
    customerId: "customer-1"
    items: [{ productId: "espresso-beans", quantity: 2, unitPrice: "12.50" }]
    shippingAddress: { line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" }
  }) {
    orderId
    version
    consistencyToken
    order { id status itemCount totalAmount createdAt }
  }
}

# Pass the token as \`after:\` to any query to read at least that fresh.
query CustomerOrders($token: ConsistencyToken) {
  customerOrders(customerId: "customer-1", after: $token) {
    total
    items { id status totalAmount }
  }
}
`;
