CREATE TABLE "fulfilment_backorders" (
	"sku" text PRIMARY KEY NOT NULL,
	"orders" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fulfilment_stock" (
	"sku" text PRIMARY KEY NOT NULL,
	"on_hand" integer NOT NULL,
	"reserved" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "fulfilment_process" ADD COLUMN "needs" jsonb;--> statement-breakpoint
ALTER TABLE "fulfilment_process" ADD COLUMN "placed" jsonb;--> statement-breakpoint
-- Orders the fulfilment process had backordered before it kept the orders waiting for each product: in
-- the queue of every product they name, in the order they were placed, so that stock coming fills them.
-- Their quantities and the products' stock are rebuilt from the log when first needed (process-state.ts).
INSERT INTO "fulfilment_backorders" ("sku", "orders")
SELECT "sku", jsonb_agg(jsonb_build_object('orderId', "order_id", 'tx', "tx"::text, 'pos', "pos"::text) ORDER BY "tx", "pos")
FROM (
	SELECT DISTINCT line."sku", p."order_id", created."transaction_id" AS "tx", created."global_position" AS "pos"
	FROM "fulfilment_process" p
	JOIN "events" created ON created."stream_id" = p."order_id" AND created."version" = 1 AND created."type" = 'OrderCreated'
	JOIN "events" e ON e."stream_id" = p."order_id" AND e."type" IN ('OrderCreated', 'OrderItemAdded')
	CROSS JOIN LATERAL (
		SELECT item->>'productId' AS "sku" FROM jsonb_array_elements(CASE WHEN e."type" = 'OrderCreated' THEN e."data"->'items' ELSE '[]'::jsonb END) item
		UNION ALL SELECT e."data"->>'productId' WHERE e."type" = 'OrderItemAdded'
	) line
	WHERE p."status" = 'BACKORDERED'
) backordered
GROUP BY "sku";
