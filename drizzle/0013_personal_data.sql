CREATE TABLE "data_keys" (
	"key_id" text PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"master_id" text NOT NULL,
	"wrapped_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "data_migrations" (
	"name" text PRIMARY KEY NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
SELECT converge_tenant_table('data_keys');--> statement-breakpoint
CREATE UNIQUE INDEX "data_keys_subject_idx" ON "data_keys" ("tenant_id", "subject");--> statement-breakpoint
CREATE INDEX "data_keys_master_idx" ON "data_keys" ("master_id");--> statement-breakpoint
-- searchOrders no longer matches the city (personal data): the city was the last field of search_text.
UPDATE "orders" SET "search_text" = regexp_replace("search_text", E'\\x1f[^\\x1f]*$', '') WHERE "search_text" LIKE E'%\\x1f%\\x1f%';
