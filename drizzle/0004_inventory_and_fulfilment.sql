CREATE TABLE "products" (
	"sku" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"on_hand" integer NOT NULL,
	"reserved" integer NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fulfilment_process" (
	"order_id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"skus" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "order_fulfilments" (
	"order_id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "projections" ADD COLUMN "effects_tx" "xid8";--> statement-breakpoint
ALTER TABLE "projections" ADD COLUMN "effects" bigint;--> statement-breakpoint
CREATE INDEX "products_name_idx" ON "products" USING btree ("name","sku");--> statement-breakpoint
-- converge_advance_projection (see 0003) also keeps, for a process manager, how far the events its
-- commands appended reached (the furthest so far), and sends it with the progress notification:
-- "<projection> <transaction id> <position>[ <effects transaction id> <effects position>]".
DROP FUNCTION IF EXISTS converge_advance_projection(text, xid8, bigint, xid8, bigint, text);--> statement-breakpoint
CREATE OR REPLACE FUNCTION converge_advance_projection(
	p_name text, p_from_tx xid8, p_from bigint, p_to_tx xid8, p_to bigint, p_channel text,
	p_effects_tx xid8 DEFAULT NULL, p_effects bigint DEFAULT NULL
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	v_effects_tx xid8;
	v_effects bigint;
BEGIN
	UPDATE projections SET position_tx = p_to_tx, position = p_to, updated_at = now(),
		effects_tx = CASE WHEN p_effects_tx IS NOT NULL AND (effects_tx IS NULL OR (effects_tx, effects) < (p_effects_tx, p_effects))
			THEN p_effects_tx ELSE effects_tx END,
		effects = CASE WHEN p_effects_tx IS NOT NULL AND (effects_tx IS NULL OR (effects_tx, effects) < (p_effects_tx, p_effects))
			THEN p_effects ELSE effects END
	WHERE name = p_name AND position_tx = p_from_tx AND position = p_from AND state IN ('RUNNING', 'REBUILDING')
	RETURNING effects_tx, effects INTO v_effects_tx, v_effects;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'projection % is no longer at % %', p_name, p_from_tx, p_from USING ERRCODE = 'CV001';
	END IF;
	PERFORM pg_notify(p_channel, p_name || ' ' || p_to_tx || ' ' || p_to
		|| CASE WHEN v_effects_tx IS NULL THEN '' ELSE ' ' || v_effects_tx || ' ' || v_effects END);
	PERFORM set_config('synchronous_commit', 'off', true);
	RETURN true;
END
$$;
