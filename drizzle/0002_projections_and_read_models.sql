CREATE TABLE "projections" (
	"name" text PRIMARY KEY NOT NULL,
	"state" text DEFAULT 'RUNNING' NOT NULL,
	"position_tx" "xid8" DEFAULT '0'::xid8 NOT NULL,
	"position" bigint DEFAULT 0 NOT NULL,
	"last_error" text,
	"error_position_tx" "xid8",
	"error_position" bigint,
	"rebuild_position_tx" "xid8",
	"rebuild_position" bigint,
	"updated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "customer_summaries" (
	"customer_id" text PRIMARY KEY NOT NULL,
	"order_count" integer NOT NULL,
	"cancelled_count" integer NOT NULL,
	"total_spent" numeric(22, 2) NOT NULL,
	"last_order_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "customer_summary_orders" (
	"order_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"status" text NOT NULL,
	"total_amount" numeric(20, 2) NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"status" text NOT NULL,
	"items" jsonb NOT NULL,
	"item_count" integer NOT NULL,
	"total_amount" numeric(20, 2) NOT NULL,
	"shipping_address" jsonb NOT NULL,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"shipped_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone,
	"cancel_reason" text,
	"search_text" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "orders_customer_created_idx" ON "orders" USING btree ("customer_id","created_at","id");--> statement-breakpoint
CREATE INDEX "orders_customer_status_created_idx" ON "orders" USING btree ("customer_id","status","created_at","id");--> statement-breakpoint
CREATE INDEX "orders_search_trgm_idx" ON "orders" USING gin ("search_text" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "orders_created_idx" ON "orders" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "orders_total_idx" ON "orders" USING btree ("total_amount","id");