-- Tenants (docs/decisions/tenants.md). Every event, command record, snapshot and read-model row carries
-- its tenant; what was stored before is tenant 'default'. Row-level security scopes the tables to the
-- tenant a transaction names (set_config('converge.tenant', …, true)) for every role but their owner and
-- superusers: the service's API statements run as converge_api, the projections as the owner.
--
-- The role is cluster-wide and may exist already (another database of the cluster made it); a user that
-- may not create roles leaves it to an administrator: TENANCY=multi refuses to start without it.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'converge_api') THEN
		CREATE ROLE converge_api NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
	END IF;
EXCEPTION
	WHEN duplicate_object OR unique_violation THEN NULL;
	WHEN insufficient_privilege THEN RAISE NOTICE 'converge_api not created (%): TENANCY=multi needs it', SQLERRM;
END
$$;--> statement-breakpoint
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'converge_api') AND NOT pg_has_role(current_user, 'converge_api', 'MEMBER') THEN
		EXECUTE format('GRANT converge_api TO %I', current_user);
	END IF;
EXCEPTION
	WHEN insufficient_privilege THEN RAISE NOTICE 'converge_api not granted to % (%): TENANCY=multi needs it', current_user, SQLERRM;
END
$$;--> statement-breakpoint
-- A table of tenants' rows: a tenant_id column (existing rows: 'default'), the primary key with tenant_id
-- last (so that a read by the old key still uses it), row-level security to the tenant a transaction names,
-- and converge_api's rights on it. Every read-model table's migration calls it (converge new domain adds
-- the call); a rebuild's swap calls it on the tables it swaps in, whose copies have no policies.
CREATE OR REPLACE FUNCTION converge_tenant_table(p_table regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_key name;
	v_columns text;
BEGIN
	EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT %L', p_table, 'default');
	SELECT c.conname, string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) INTO v_key, v_columns
	FROM pg_constraint c
		CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
	WHERE c.conrelid = p_table AND c.contype = 'p'
	GROUP BY c.conname;
	IF v_key IS NOT NULL AND v_columns NOT LIKE '%tenant_id%' THEN
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY (%s, tenant_id)', p_table, v_key, v_key, v_columns);
	END IF;
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
	EXECUTE format('DROP POLICY IF EXISTS converge_tenant ON %s', p_table);
	EXECUTE format(
		'CREATE POLICY converge_tenant ON %s USING (tenant_id = current_setting(%L, true)) WITH CHECK (tenant_id = current_setting(%L, true))',
		p_table, 'converge.tenant', 'converge.tenant'
	);
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'converge_api') THEN
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO converge_api', p_table);
	END IF;
END
$$;--> statement-breakpoint
SELECT converge_tenant_table('events');--> statement-breakpoint
ALTER TABLE "events" DROP CONSTRAINT "events_stream_version_key", ADD CONSTRAINT "events_stream_version_key" UNIQUE ("stream_id", "version", "tenant_id");--> statement-breakpoint
SELECT converge_tenant_table('commands');--> statement-breakpoint
SELECT converge_tenant_table('snapshots');--> statement-breakpoint
SELECT converge_tenant_table('orders');--> statement-breakpoint
SELECT converge_tenant_table('customer_summaries');--> statement-breakpoint
SELECT converge_tenant_table('customer_summary_orders');--> statement-breakpoint
SELECT converge_tenant_table('products');--> statement-breakpoint
SELECT converge_tenant_table('order_fulfilments');--> statement-breakpoint
SELECT converge_tenant_table('fulfilment_process');--> statement-breakpoint
SELECT converge_tenant_table('fulfilment_stock');--> statement-breakpoint
SELECT converge_tenant_table('fulfilment_backorders');--> statement-breakpoint
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'converge_api') THEN
		GRANT USAGE ON SEQUENCE events_global_position_seq TO converge_api;
	END IF;
END
$$;
