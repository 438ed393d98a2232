-- Progress notifications may name the trace of the step that sent them (a W3C traceparent, with tracing
-- on: README, Tracing), so that a read waiting for the step in another process links to it. The function
-- of 0009 with one more argument; callers that do not pass it get the notification as before.
DROP FUNCTION IF EXISTS converge_advance_projection(text, xid8, bigint, xid8, bigint, text, xid8, bigint);
--> statement-breakpoint
CREATE FUNCTION converge_advance_projection(
	p_name text, p_from_tx xid8, p_from bigint, p_to_tx xid8, p_to bigint, p_channel text,
	p_effects_tx xid8 DEFAULT NULL, p_effects bigint DEFAULT NULL, p_trace text DEFAULT NULL
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
		|| CASE WHEN v_effects_tx IS NULL THEN '' ELSE ' ' || v_effects_tx || ' ' || v_effects END
		|| CASE WHEN p_trace IS NULL THEN '' ELSE ' ' || p_trace END);
	RETURN true;
END
$$;
