"""0001: the whole data model of hostdesk (rules.md §1-§12).

Frozen copies of the tables as they were at this migration, independent of the app's models.
"""
from peewee import *
from hostdesk.models.fields import MoneyField
from hostdesk.models.fields import PendulumDateField
from hostdesk.models.fields import UTCDateTimeField


def up(migrator, db):
    class ActivityLog(Model):
        at = UTCDateTimeField(index=True)
        admin_login = CharField(max_length=100)
        action = CharField(max_length=100)
        object_type = CharField(max_length=30)
        object_id = IntegerField(null=True)
        client_id = IntegerField(null=True)
        description = TextField(default='')
        before = TextField(default='')
        after = TextField(default='')
        class Meta:
            database = db
            table_name = 'activity_log'
            indexes = ((('object_type', 'object_id'), False),)
    db.create_tables([ActivityLog])

    class Admin(Model):
        login = CharField(unique=True, max_length=100)
        name = CharField(max_length=200, default='')
        email = CharField(max_length=254, default='')
        role = CharField(max_length=20, constraints=[Check("role IN ('full', 'sales', 'support')")])
        active = BooleanField(default=True)
        created_at = UTCDateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'admin'
    db.create_tables([Admin])

    class ClientGroup(Model):
        name = CharField(unique=True, max_length=100)
        separate_invoices = BooleanField(default=False)
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'client_group'
    db.create_tables([ClientGroup])

    class Client(Model):
        first_name = CharField(max_length=100)
        last_name = CharField(max_length=100)
        company = CharField(max_length=200, default='')
        email = CharField(index=True, max_length=254)
        phone = CharField(max_length=50, default='')
        address = CharField(max_length=300, default='')
        city = CharField(max_length=100, default='')
        postcode = CharField(max_length=20, default='')
        country = CharField(max_length=2, default='')
        status = CharField(max_length=10, default='active', constraints=[Check("status IN ('active', 'inactive', 'closed')")])
        group = ForeignKeyField(ClientGroup, null=True, on_delete='SET NULL')
        separate_invoices = BooleanField(default=False)
        credit = MoneyField(default=0, constraints=[Check('credit >= 0')])
        default_payment_method = CharField(max_length=50, default='banktransfer')
        notes = TextField(default='')
        created_at = UTCDateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'client'
    db.create_tables([Client])

    class Promotion(Model):
        code = CharField(unique=True, max_length=50)
        type = CharField(max_length=20, constraints=[Check("type IN ('percentage', 'fixed', 'price_override', 'free_setup')")])
        value = MoneyField(default=0, constraints=[Check('value >= 0')])
        recurring = BooleanField(default=False)
        recur_for = IntegerField(default=0)
        cycles = CharField(max_length=200, default='')
        start_date = PendulumDateField(null=True)
        expiry_date = PendulumDateField(null=True)
        max_uses = IntegerField(default=0)
        uses = IntegerField(default=0)
        notes = TextField(default='')
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'promotion'
    db.create_tables([Promotion])

    class Order(Model):
        number = CharField(unique=True, max_length=10)
        client = ForeignKeyField(Client, on_delete='RESTRICT')
        status = CharField(max_length=20, default='pending', constraints=[Check("status IN ('pending', 'active', 'cancelled', 'fraud')")])
        payment_method = CharField(max_length=50)
        promotion = ForeignKeyField(Promotion, null=True, on_delete='SET NULL')
        promo_code = CharField(max_length=50, default='')
        amount = MoneyField(default=0)
        admin_login = CharField(max_length=100, default='')
        notes = TextField(default='')
        created_at = UTCDateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'order'
    db.create_tables([Order])

    class Server(Model):
        name = CharField(unique=True, max_length=100)
        hostname = CharField(max_length=253, default='')
        ip_address = CharField(max_length=45, default='')
        module = CharField(max_length=50, default='none')
        settings = TextField(default='{}')
        max_accounts = IntegerField(default=0)
        active = BooleanField(default=True)
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'server'
    db.create_tables([Server])

    class Product(Model):
        name = CharField(max_length=200)
        group_name = CharField(max_length=100, default='')
        type = CharField(max_length=20, default='shared', constraints=[Check("type IN ('shared', 'reseller', 'vps', 'dedicated', 'other')")])
        description = TextField(default='')
        module = CharField(max_length=50, default='none')
        server = ForeignKeyField(Server, null=True, on_delete='SET NULL')
        module_settings = TextField(default='{}')
        auto_setup = CharField(max_length=20, default='on_payment', constraints=[Check("auto_setup IN ('on_order', 'on_payment', 'on_accept', 'never')")])
        welcome_email = CharField(max_length=100, default='')
        upgrade_email = CharField(max_length=100, default='')
        termination_email = CharField(max_length=100, default='')
        auto_terminate_days = IntegerField(default=0, constraints=[Check('auto_terminate_days >= 0')])
        allows_quantity = BooleanField(default=False)
        hidden = BooleanField(default=False)
        retired = BooleanField(default=False)
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'product'
    db.create_tables([Product])

    class Service(Model):
        client = ForeignKeyField(Client, on_delete='RESTRICT')
        order = ForeignKeyField(Order, null=True, on_delete='SET NULL')
        product = ForeignKeyField(Product, on_delete='RESTRICT')
        server = ForeignKeyField(Server, null=True, on_delete='SET NULL')
        domain = CharField(index=True, max_length=253, default='')
        dedicated_ip = CharField(max_length=45, default='')
        username = CharField(max_length=100, default='')
        password = TextField(default='')
        status = CharField(max_length=20, default='pending', constraints=[Check("status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled', 'completed', 'fraud')")])
        registration_date = PendulumDateField()
        quantity = IntegerField(default=1, constraints=[Check('quantity >= 1')])
        first_payment_amount = MoneyField(default=0, constraints=[Check('first_payment_amount >= 0')])
        recurring_amount = MoneyField(default=0, constraints=[Check('recurring_amount >= 0')])
        billing_cycle = CharField(max_length=20)
        next_due_date = PendulumDateField(null=True)
        anchor_day = IntegerField(default=1, constraints=[Check('anchor_day BETWEEN 1 AND 31')])
        payment_method = CharField(max_length=50)
        promotion = ForeignKeyField(Promotion, null=True, on_delete='SET NULL')
        promotion_uses = IntegerField(default=0)
        subscription_id = CharField(max_length=100, default='')
        override_suspend = BooleanField(default=False)
        override_suspend_until = PendulumDateField(null=True)
        auto_terminate_end_of_cycle = BooleanField(default=False)
        auto_terminate_reason = CharField(max_length=500, default='')
        suspension_reason = CharField(max_length=500, default='')
        termination_date = PendulumDateField(null=True)
        admin_notes = TextField(default='')
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'service'
            indexes = ((('status', 'next_due_date', 'id'), False), (('client', 'id'), False), (('product', 'status', 'id'), False), (('next_due_date', 'id'), False))
    db.create_tables([Service])

    class CancellationRequest(Model):
        service = ForeignKeyField(Service, on_delete='CASCADE')
        type = CharField(max_length=20, constraints=[Check("type IN ('immediate', 'end_of_period')")])
        reason = TextField(default='')
        status = CharField(max_length=20, default='open', constraints=[Check("status IN ('open', 'completed', 'deleted')")])
        disable_domain_auto_renew = BooleanField(default=False)
        cancelled_line_ids = TextField(default='[]')
        requested_by = CharField(max_length=100, default='')
        created_at = UTCDateTimeField()
        completed_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'cancellation_request'
            indexes = ((('status', 'created_at'), False),)
    db.create_tables([CancellationRequest])

    class CatalogAddon(Model):
        name = CharField(max_length=200)
        description = TextField(default='')
        module = CharField(max_length=50, default='none')
        auto_setup = CharField(max_length=20, default='on_payment')
        welcome_email = CharField(max_length=100, default='')
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'catalog_addon'
    db.create_tables([CatalogAddon])

    class CatalogAddonPrice(Model):
        addon = ForeignKeyField(CatalogAddon, on_delete='CASCADE')
        cycle = CharField(max_length=20)
        price = MoneyField(constraints=[Check('price >= 0')])
        setup_fee = MoneyField(default=0, constraints=[Check('setup_fee >= 0')])
        class Meta:
            database = db
            table_name = 'catalog_addon_price'
            indexes = ((('addon', 'cycle'), True),)
    db.create_tables([CatalogAddonPrice])

    class CatalogAddonProduct(Model):
        addon = ForeignKeyField(CatalogAddon, on_delete='CASCADE')
        product = ForeignKeyField(Product, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'catalog_addon_product'
            indexes = ((('addon', 'product'), True),)
    db.create_tables([CatalogAddonProduct])

    class ConfigOption(Model):
        product = ForeignKeyField(Product, on_delete='CASCADE')
        name = CharField(max_length=100)
        option_type = CharField(max_length=20, default='dropdown')
        sort_order = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'config_option'
    db.create_tables([ConfigOption])

    class ConfigOptionChoice(Model):
        option = ForeignKeyField(ConfigOption, on_delete='CASCADE')
        name = CharField(max_length=100)
        sort_order = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'config_option_choice'
    db.create_tables([ConfigOptionChoice])

    class ConfigOptionPrice(Model):
        choice = ForeignKeyField(ConfigOptionChoice, on_delete='CASCADE')
        cycle = CharField(max_length=20)
        price = MoneyField(default=0, constraints=[Check('price >= 0')])
        setup_fee = MoneyField(default=0, constraints=[Check('setup_fee >= 0')])
        class Meta:
            database = db
            table_name = 'config_option_price'
            indexes = ((('choice', 'cycle'), True),)
    db.create_tables([ConfigOptionPrice])

    class Invoice(Model):
        client = ForeignKeyField(Client, on_delete='RESTRICT')
        order = ForeignKeyField(Order, null=True, on_delete='SET NULL')
        status = CharField(max_length=20, default='unpaid', constraints=[Check("status IN ('draft', 'unpaid', 'paid', 'cancelled', 'refunded')")])
        date = PendulumDateField()
        due_date = PendulumDateField()
        paid_date = PendulumDateField(null=True)
        payment_method = CharField(max_length=50)
        total = MoneyField(default=0)
        amount_paid = MoneyField(default=0)
        notes = TextField(default='')
        created_at = UTCDateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'invoice'
            indexes = ((('status', 'due_date', 'id'), False), (('client', 'status', 'id'), False))
    db.create_tables([Invoice])

    class CreditEntry(Model):
        client = ForeignKeyField(Client, on_delete='RESTRICT')
        amount = MoneyField()
        description = CharField(max_length=500)
        invoice = ForeignKeyField(Invoice, null=True, on_delete='SET NULL')
        created_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'credit_entry'
    db.create_tables([CreditEntry])

    class CronRun(Model):
        run_date = PendulumDateField()
        dry_run = BooleanField(default=False)
        status = CharField(max_length=20, default='running', constraints=[Check("status IN ('running', 'succeeded', 'failed')")])
        started_at = UTCDateTimeField()
        finished_at = UTCDateTimeField(null=True)
        report = TextField(default='{}')
        holder = CharField(max_length=200, default='')
        class Meta:
            database = db
            table_name = 'cron_run'
    db.create_tables([CronRun])

    class Domain(Model):
        client = ForeignKeyField(Client, on_delete='RESTRICT')
        order = ForeignKeyField(Order, null=True, on_delete='SET NULL')
        name = CharField(index=True, max_length=253)
        kind = CharField(max_length=10, default='register', constraints=[Check("kind IN ('register', 'transfer')")])
        status = CharField(max_length=20, default='pending', constraints=[Check("status IN ('pending', 'pending_transfer', 'active', 'expired', 'cancelled', 'fraud', 'transferred_away')")])
        registration_date = PendulumDateField()
        years = IntegerField(default=1, constraints=[Check('years >= 1')])
        first_payment_amount = MoneyField(default=0)
        recurring_amount = MoneyField(default=0, constraints=[Check('recurring_amount >= 0')])
        next_due_date = PendulumDateField(null=True)
        anchor_day = IntegerField(default=1)
        expiry_date = PendulumDateField(null=True)
        payment_method = CharField(max_length=50)
        auto_renew = BooleanField(default=True)
        epp_code = TextField(default='')
        dns_management = BooleanField(default=False)
        email_forwarding = BooleanField(default=False)
        id_protection = BooleanField(default=False)
        promotion = ForeignKeyField(Promotion, null=True, on_delete='SET NULL')
        notes = TextField(default='')
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'domain'
            indexes = ((('status', 'next_due_date', 'id'), False),)
    db.create_tables([Domain])

    class EmailOutbox(Model):
        to_address = CharField(max_length=254)
        subject = CharField(max_length=500)
        body = TextField()
        template = CharField(max_length=100, default='')
        client = ForeignKeyField(Client, null=True, on_delete='SET NULL')
        related_type = CharField(max_length=20, default='')
        related_id = IntegerField(null=True)
        status = CharField(max_length=20, default='queued', constraints=[Check("status IN ('queued', 'sent', 'failed')")])
        attempts = IntegerField(default=0)
        last_error = TextField(default='')
        created_at = UTCDateTimeField()
        sent_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'email_outbox'
            indexes = ((('status', 'id'), False),)
    db.create_tables([EmailOutbox])

    class EmailLog(Model):
        email = ForeignKeyField(EmailOutbox, on_delete='CASCADE')
        at = UTCDateTimeField()
        success = BooleanField()
        detail = TextField(default='')
        class Meta:
            database = db
            table_name = 'email_log'
    db.create_tables([EmailLog])

    class InvoiceLine(Model):
        invoice = ForeignKeyField(Invoice, on_delete='CASCADE')
        kind = CharField(max_length=20, constraints=[Check("kind IN ('renewal', 'prorata', 'upgrade', 'first', 'setup', 'discount', 'credit', 'custom')")])
        item_type = CharField(null=True, max_length=10)
        item_id = IntegerField(null=True)
        period_start = PendulumDateField(null=True)
        period_end = PendulumDateField(null=True)
        description = CharField(max_length=500)
        amount = MoneyField()
        cancelled = BooleanField(default=False)
        applied_at = UTCDateTimeField(null=True)
        upgrade = IntegerField(null=True)
        sort_order = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'invoice_line'
            indexes = ((('item_type', 'item_id', 'period_start'), False), (('invoice', 'sort_order'), False))
    db.create_tables([InvoiceLine])

    class ServiceAddon(Model):
        service = ForeignKeyField(Service, on_delete='CASCADE')
        catalog_addon = ForeignKeyField(CatalogAddon, null=True, on_delete='SET NULL')
        name = CharField(max_length=200)
        setup_fee = MoneyField(default=0, constraints=[Check('setup_fee >= 0')])
        recurring_amount = MoneyField(default=0, constraints=[Check('recurring_amount >= 0')])
        billing_cycle = CharField(max_length=20)
        status = CharField(max_length=20, default='pending', constraints=[Check("status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled', 'completed', 'fraud')")])
        registration_date = PendulumDateField()
        next_due_date = PendulumDateField(null=True)
        anchor_day = IntegerField(default=1, constraints=[Check('anchor_day BETWEEN 1 AND 31')])
        termination_date = PendulumDateField(null=True)
        notes = TextField(default='')
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'service_addon'
            indexes = ((('status', 'next_due_date', 'id'), False),)
    db.create_tables([ServiceAddon])

    class ModuleJob(Model):
        service = ForeignKeyField(Service, null=True, on_delete='CASCADE')
        addon = ForeignKeyField(ServiceAddon, null=True, on_delete='CASCADE')
        command = CharField(max_length=50)
        arguments = TextField(default='{}')
        status = CharField(max_length=20, default='queued', constraints=[Check("status IN ('queued', 'failed', 'done', 'dismissed')")])
        attempts = IntegerField(default=0)
        last_error = TextField(default='')
        source = CharField(max_length=20, default='cron')
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'module_job'
            indexes = ((('status', 'id'), False),)
    db.create_tables([ModuleJob])

    class Payment(Model):
        invoice = ForeignKeyField(Invoice, on_delete='RESTRICT')
        amount = MoneyField(constraints=[Check('amount > 0')])
        date = PendulumDateField()
        method = CharField(max_length=50)
        transaction_ref = CharField(max_length=200, default='')
        admin_login = CharField(max_length=100, default='')
        created_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'payment'
    db.create_tables([Payment])

    class ProductPrice(Model):
        product = ForeignKeyField(Product, on_delete='CASCADE')
        cycle = CharField(max_length=20)
        price = MoneyField(constraints=[Check('price >= 0')])
        setup_fee = MoneyField(default=0, constraints=[Check('setup_fee >= 0')])
        class Meta:
            database = db
            table_name = 'product_price'
            indexes = ((('product', 'cycle'), True),)
    db.create_tables([ProductPrice])

    class PromotionProduct(Model):
        promotion = ForeignKeyField(Promotion, on_delete='CASCADE')
        product = ForeignKeyField(Product, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'promotion_product'
            indexes = ((('promotion', 'product'), True),)
    db.create_tables([PromotionProduct])

    class RunLock(Model):
        name = CharField(primary_key=True, max_length=50)
        holder = CharField(max_length=200)
        acquired_at = UTCDateTimeField()
        heartbeat_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'run_lock'
    db.create_tables([RunLock])

    class ServiceConfigOption(Model):
        service = ForeignKeyField(Service, on_delete='CASCADE')
        option = ForeignKeyField(ConfigOption, on_delete='CASCADE')
        choice = ForeignKeyField(ConfigOptionChoice, null=True, on_delete='SET NULL')
        quantity = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'service_config_option'
            indexes = ((('service', 'option'), True),)
    db.create_tables([ServiceConfigOption])

    class Setting(Model):
        key = CharField(primary_key=True, max_length=100)
        value = TextField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'setting'
    db.create_tables([Setting])

    class Tld(Model):
        name = CharField(unique=True, max_length=63)
        register_price = MoneyField()
        transfer_price = MoneyField()
        renew_price = MoneyField()
        min_years = IntegerField(default=1)
        max_years = IntegerField(default=10)
        dns_management_price = MoneyField(default=0)
        email_forwarding_price = MoneyField(default=0)
        id_protection_price = MoneyField(default=0)
        epp_required = BooleanField(default=True)
        class Meta:
            database = db
            table_name = 'tld'
    db.create_tables([Tld])

    class Upgrade(Model):
        service = ForeignKeyField(Service, on_delete='CASCADE')
        order = ForeignKeyField(Order, null=True, on_delete='SET NULL')
        invoice = ForeignKeyField(Invoice, null=True, on_delete='SET NULL')
        old_product = ForeignKeyField(Product, on_delete='RESTRICT')
        new_product = ForeignKeyField(Product, on_delete='RESTRICT')
        old_cycle = CharField(max_length=20)
        new_cycle = CharField(max_length=20)
        old_amount = MoneyField()
        new_amount = MoneyField()
        config_changes = TextField(default='{}')
        credit = MoneyField(default=0)
        charge = MoneyField(default=0)
        discount = MoneyField(default=0)
        payable = MoneyField(default=0)
        status = CharField(max_length=20, default='pending', constraints=[Check("status IN ('pending', 'applied', 'cancelled')")])
        created_at = UTCDateTimeField()
        applied_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'upgrade'
    db.create_tables([Upgrade])

    # Partial unique indexes: what must never happen twice is refused by the database.
    # "NOT cancelled" reads the same on SQLite (0/1) and PostgreSQL (boolean).
    db.execute_sql(
        'CREATE UNIQUE INDEX invoice_line_one_live_renewal ON invoice_line '
        "(item_type, item_id, period_start) WHERE kind = 'renewal' AND NOT cancelled")
    db.execute_sql(
        'CREATE UNIQUE INDEX payment_once_per_transaction ON payment '
        "(invoice_id, method, transaction_ref) WHERE transaction_ref <> ''")
    db.execute_sql(
        'CREATE UNIQUE INDEX upgrade_one_pending ON upgrade '
        "(service_id) WHERE status = 'pending'")
    db.execute_sql(
        'CREATE UNIQUE INDEX cancellation_one_open ON cancellation_request '
        "(service_id) WHERE status = 'open'")


def down(migrator, db):
    migrator.migrate(migrator.drop_table('upgrade'))
    migrator.migrate(migrator.drop_table('tld'))
    migrator.migrate(migrator.drop_table('setting'))
    migrator.migrate(migrator.drop_table('service_config_option'))
    migrator.migrate(migrator.drop_table('run_lock'))
    migrator.migrate(migrator.drop_table('promotion_product'))
    migrator.migrate(migrator.drop_table('product_price'))
    migrator.migrate(migrator.drop_table('payment'))
    migrator.migrate(migrator.drop_table('module_job'))
    migrator.migrate(migrator.drop_table('service_addon'))
    migrator.migrate(migrator.drop_table('invoice_line'))
    migrator.migrate(migrator.drop_table('email_log'))
    migrator.migrate(migrator.drop_table('email_outbox'))
    migrator.migrate(migrator.drop_table('domain'))
    migrator.migrate(migrator.drop_table('cron_run'))
    migrator.migrate(migrator.drop_table('credit_entry'))
    migrator.migrate(migrator.drop_table('invoice'))
    migrator.migrate(migrator.drop_table('config_option_price'))
    migrator.migrate(migrator.drop_table('config_option_choice'))
    migrator.migrate(migrator.drop_table('config_option'))
    migrator.migrate(migrator.drop_table('catalog_addon_product'))
    migrator.migrate(migrator.drop_table('catalog_addon_price'))
    migrator.migrate(migrator.drop_table('catalog_addon'))
    migrator.migrate(migrator.drop_table('cancellation_request'))
    migrator.migrate(migrator.drop_table('service'))
    migrator.migrate(migrator.drop_table('product'))
    migrator.migrate(migrator.drop_table('server'))
    migrator.migrate(migrator.drop_table('order'))
    migrator.migrate(migrator.drop_table('promotion'))
    migrator.migrate(migrator.drop_table('client'))
    migrator.migrate(migrator.drop_table('client_group'))
    migrator.migrate(migrator.drop_table('admin'))
    migrator.migrate(migrator.drop_table('activity_log'))

