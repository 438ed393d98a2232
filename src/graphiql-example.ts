// What GraphiQL opens on: the read-your-writes flow, a command that returns its token and the order after
// it, and a live query of the customer's orders that follows every change.
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

# A live query: the answer now, then again whenever it changes. Run it, then
# run PlaceOrder in another tab: the total and the list update by themselves.
query LiveCustomer @live {
  customerSummary(customerId: "customer-1") { orderCount totalSpent }
  customerOrders(customerId: "customer-1", pageSize: 5) {
    total
    items { id status totalAmount fulfilment }
  }
}
`;
