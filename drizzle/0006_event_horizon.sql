ALTER TABLE "projections" ADD COLUMN "rebuild_requested" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- A projection that was rebuilding when this migration ran keeps its rebuild.
UPDATE "projections" SET "rebuild_requested" = true WHERE "state" = 'REBUILDING' OR "rebuild_position" IS NOT NULL;--> statement-breakpoint
-- The event horizon of Converge's own appends (docs/decisions/event-horizon.md). Every statement that
-- inserts events first takes a shared transaction-level advisory lock (the "append lock", key
-- 1129727559/1), before its transaction has an id; a transaction that already has one may not start
-- appending (CV002). A reader then bounds what it may see by the appends in flight, not by every
-- transaction of the cluster.
CREATE OR REPLACE FUNCTION converge_take_append_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('converge.appending', true) = 'on' THEN
		RETURN NULL;
	END IF;
	IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
		RAISE EXCEPTION 'events must be the first thing a transaction writes (this one already wrote something else)'
			USING ERRCODE = 'CV002';
	END IF;
	PERFORM pg_advisory_xact_lock_shared(1129727559, 1);
	PERFORM set_config('converge.appending', 'on', true);
	RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER events_append_lock BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION converge_take_append_lock();--> statement-breakpoint
-- The highest transaction id below which every event is visible to snapshot s and no event can still
-- appear, for a statement whose snapshot is s. Read after s was taken, in this order: the appends in
-- flight (holders of the append lock) and then which of s's in-progress transactions have ended since.
CREATE OR REPLACE FUNCTION converge_event_horizon(s pg_snapshot) RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v_horizon xid8 := pg_snapshot_xmax(s);
	v_ref bigint := pg_snapshot_xmax(s)::text::bigint;
	v_appending xid8;
	v_ended xid8;
BEGIN
	PERFORM pg_stat_clear_snapshot();
	-- backend_xid is 32 bits: placed in the epoch nearest to xmax(s).
	SELECT min((v_ref - CASE WHEN d > 2147483648 THEN d - 4294967296 ELSE d END)::text::xid8) INTO v_appending
	FROM (
		SELECT (((v_ref & 4294967295) - a.backend_xid::text::bigint) % 4294967296 + 4294967296) % 4294967296 AS d
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid = 1129727559 AND l.objid = 1 AND l.objsubid = 2 AND l.granted AND a.backend_xid IS NOT NULL
	) holders;
	SELECT min(x) INTO v_ended FROM pg_snapshot_xip(s) AS x WHERE pg_xact_status(x) IS DISTINCT FROM 'in progress';
	IF v_appending IS NOT NULL AND v_appending < v_horizon THEN v_horizon := v_appending; END IF;
	IF v_ended IS NOT NULL AND v_ended < v_horizon THEN v_horizon := v_ended; END IF;
	RETURN v_horizon;
END
$$;
