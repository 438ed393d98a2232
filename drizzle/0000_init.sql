CREATE TABLE "commands" (
	"command_id" text PRIMARY KEY NOT NULL,
	"input_hash" text NOT NULL,
	"stream_id" text NOT NULL,
	"version" integer NOT NULL,
	"transaction_id" "xid8" NOT NULL,
	"global_position" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"global_position" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "events_global_position_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"transaction_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"stream_id" text NOT NULL,
	"stream_type" text NOT NULL,
	"version" integer NOT NULL,
	"type" text NOT NULL,
	"schema_version" integer DEFAULT 1 NOT NULL,
	"data" jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_stream_version_key" UNIQUE("stream_id","version")
);
--> statement-breakpoint
CREATE INDEX "events_global_order_idx" ON "events" USING btree ("transaction_id","global_position");