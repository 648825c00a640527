-- The WHMCS 8 tables the importer reads, with WHMCS's column names and types (TEXT where
-- WHMCS has TEXT, DATE columns that hold 0000-00-00 for "none", DECIMAL(16,2) money).
CREATE TABLE tblcurrencies (
  id INT AUTO_INCREMENT PRIMARY KEY, code TEXT NOT NULL, prefix TEXT NOT NULL,
  suffix TEXT NOT NULL, format INT NOT NULL DEFAULT 1, rate DECIMAL(10,5) NOT NULL DEFAULT 1,
  `default` INT NOT NULL DEFAULT 0);
CREATE TABLE tblclientgroups (
  id INT AUTO_INCREMENT PRIMARY KEY, groupname VARCHAR(45) NOT NULL,
  groupcolour VARCHAR(45) NULL, discountpercent DECIMAL(10,2) NULL DEFAULT 0,
  susptermexempt TEXT NULL, separateinvoices TEXT NOT NULL);
CREATE TABLE tblclients (
  id INT AUTO_INCREMENT PRIMARY KEY, uuid VARCHAR(255) NOT NULL DEFAULT '',
  firstname TEXT NOT NULL, lastname TEXT NOT NULL, companyname TEXT NOT NULL, email TEXT NOT NULL,
  address1 TEXT NOT NULL, address2 TEXT NOT NULL, city TEXT NOT NULL, state TEXT NOT NULL,
  postcode TEXT NOT NULL, country TEXT NOT NULL, phonenumber TEXT NOT NULL,
  tax_id VARCHAR(128) NOT NULL DEFAULT '', password TEXT NOT NULL, currency INT NOT NULL,
  defaultgateway TEXT NOT NULL, credit DECIMAL(16,2) NOT NULL DEFAULT 0,
  taxexempt TINYINT(1) NOT NULL DEFAULT 0, separateinvoices TINYINT(1) NOT NULL DEFAULT 0,
  datecreated DATE NOT NULL, notes TEXT NOT NULL, groupid INT NOT NULL DEFAULT 0,
  cardtype VARCHAR(255) NOT NULL DEFAULT '', cardlastfour TEXT NOT NULL,
  status ENUM('Active','Inactive','Closed') NOT NULL DEFAULT 'Active',
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblpaymentgateways (
  id INT AUTO_INCREMENT PRIMARY KEY, gateway TEXT NOT NULL, setting TEXT NOT NULL,
  value TEXT NOT NULL, `order` INT NOT NULL DEFAULT 0);
CREATE TABLE tblproductgroups (
  id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, slug VARCHAR(128) NOT NULL DEFAULT '',
  headline TEXT NULL, tagline TEXT NULL, orderfrmtpl TEXT NOT NULL, disabledgateways TEXT NOT NULL,
  hidden TINYINT(1) NOT NULL DEFAULT 0, `order` INT NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblproducts (
  id INT AUTO_INCREMENT PRIMARY KEY, type TEXT NOT NULL, gid INT NOT NULL, name TEXT NOT NULL,
  slug VARCHAR(128) NOT NULL DEFAULT '', description TEXT NOT NULL,
  hidden TINYINT(1) NOT NULL DEFAULT 0, welcomeemail INT NOT NULL DEFAULT 0,
  paytype TEXT NOT NULL, allowqty INT NOT NULL DEFAULT 0, autosetup TEXT NOT NULL,
  servertype TEXT NOT NULL, servergroup INT NOT NULL DEFAULT 0,
  autoterminatedays INT NOT NULL DEFAULT 0, upgradeemail INT NOT NULL DEFAULT 0,
  `order` INT NOT NULL DEFAULT 0, retired TINYINT(1) NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblpricing (
  id INT AUTO_INCREMENT PRIMARY KEY, type ENUM('product','addon','configoptions','domainregister',
  'domaintransfer','domainrenew','domainaddons','usage') NOT NULL, currency INT NOT NULL,
  relid INT NOT NULL, msetupfee DECIMAL(16,2) NOT NULL, qsetupfee DECIMAL(16,2) NOT NULL,
  ssetupfee DECIMAL(16,2) NOT NULL, asetupfee DECIMAL(16,2) NOT NULL,
  bsetupfee DECIMAL(16,2) NOT NULL, tsetupfee DECIMAL(16,2) NOT NULL,
  monthly DECIMAL(16,2) NOT NULL, quarterly DECIMAL(16,2) NOT NULL,
  semiannually DECIMAL(16,2) NOT NULL, annually DECIMAL(16,2) NOT NULL,
  biennially DECIMAL(16,2) NOT NULL, triennially DECIMAL(16,2) NOT NULL);
CREATE TABLE tblproductconfiggroups (
  id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE tblproductconfiglinks (
  id INT AUTO_INCREMENT PRIMARY KEY, gid INT NOT NULL, pid INT NOT NULL);
CREATE TABLE tblproductconfigoptions (
  id INT AUTO_INCREMENT PRIMARY KEY, gid INT NOT NULL DEFAULT 0, optionname TEXT NOT NULL,
  optiontype TEXT NOT NULL, qtyminimum INT NOT NULL DEFAULT 0, qtymaximum INT NOT NULL DEFAULT 0,
  `order` INT NOT NULL DEFAULT 0, hidden TINYINT(1) NOT NULL DEFAULT 0);
CREATE TABLE tblproductconfigoptionssub (
  id INT AUTO_INCREMENT PRIMARY KEY, configid INT NOT NULL, optionname TEXT NOT NULL,
  sortorder INT NOT NULL DEFAULT 0, hidden TINYINT(1) NOT NULL DEFAULT 0);
CREATE TABLE tblhostingconfigoptions (
  id INT AUTO_INCREMENT PRIMARY KEY, relid INT NOT NULL, configid INT NOT NULL,
  optionid INT NOT NULL, qty INT NOT NULL DEFAULT 0);
CREATE TABLE tbladdons (
  id INT AUTO_INCREMENT PRIMARY KEY, packages TEXT NOT NULL, name TEXT NOT NULL,
  description TEXT NOT NULL, billingcycle TEXT NOT NULL, allowqty SMALLINT NOT NULL DEFAULT 0,
  tax TINYINT(1) NOT NULL DEFAULT 0, showorder TINYINT(1) NOT NULL DEFAULT 0,
  hidden TINYINT(1) NOT NULL DEFAULT 0, retired TINYINT(1) NOT NULL DEFAULT 0,
  downloads TEXT NOT NULL, autoactivate TEXT NOT NULL, suspendproduct TINYINT(1) NOT NULL DEFAULT 0,
  welcomeemail INT NOT NULL DEFAULT 0, type VARCHAR(16) NOT NULL DEFAULT '',
  module VARCHAR(32) NOT NULL DEFAULT '', server_group_id INT NOT NULL DEFAULT 0,
  prorate TINYINT(1) NOT NULL DEFAULT 0, weight INT NOT NULL DEFAULT 0,
  autolinkby TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblpromotions (
  id INT AUTO_INCREMENT PRIMARY KEY, code TEXT NOT NULL, type TEXT NOT NULL, recurring INT NULL,
  value DECIMAL(16,2) NOT NULL DEFAULT 0, cycles TEXT NOT NULL, appliesto TEXT NOT NULL,
  requires TEXT NOT NULL, requiresexisting INT NOT NULL DEFAULT 0, startdate DATE NOT NULL,
  expirationdate DATE NULL, maxuses INT NOT NULL DEFAULT 0, uses INT NOT NULL DEFAULT 0,
  lifetimepromo INT NOT NULL DEFAULT 0, applyonce INT NOT NULL DEFAULT 0,
  newsignups INT NOT NULL DEFAULT 0, existingclient INT NOT NULL DEFAULT 0,
  onceperclient INT NOT NULL DEFAULT 0, recurfor INT NOT NULL DEFAULT 0,
  upgrades INT NOT NULL DEFAULT 0, upgradeconfig TEXT NOT NULL, notes TEXT NOT NULL);
CREATE TABLE tbldomainpricing (
  id INT AUTO_INCREMENT PRIMARY KEY, extension TEXT NOT NULL, dnsmanagement TINYINT(1) NOT NULL,
  emailforwarding TINYINT(1) NOT NULL, idprotection TINYINT(1) NOT NULL,
  eppcode TINYINT(1) NOT NULL, autoreg TEXT NOT NULL, `order` INT NOT NULL DEFAULT 0,
  `group` VARCHAR(5) NOT NULL DEFAULT '', grace_period INT NOT NULL DEFAULT -1,
  grace_period_fee DECIMAL(16,2) NOT NULL DEFAULT 0,
  redemption_grace_period INT NOT NULL DEFAULT -1,
  redemption_grace_period_fee DECIMAL(16,2) NOT NULL DEFAULT -1,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblservers (
  id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, ipaddress TEXT NOT NULL,
  assignedips TEXT NOT NULL, hostname TEXT NOT NULL, monthlycost DECIMAL(16,2) NOT NULL DEFAULT 0,
  noc TEXT NOT NULL, statusaddress TEXT NOT NULL, maxaccounts INT NOT NULL DEFAULT 0,
  type TEXT NOT NULL, username TEXT NOT NULL, password TEXT NOT NULL, accesshash TEXT NOT NULL,
  secure TEXT NOT NULL, port INT NULL, active INT NOT NULL DEFAULT 0,
  disabled INT NOT NULL DEFAULT 0);
CREATE TABLE tblorders (
  id INT AUTO_INCREMENT PRIMARY KEY, ordernum BIGINT NOT NULL, userid INT NOT NULL,
  contactid INT NOT NULL DEFAULT 0, date DATETIME NOT NULL, nameservers TEXT NOT NULL,
  promocode TEXT NOT NULL, promotype TEXT NOT NULL, promovalue TEXT NOT NULL,
  orderdata TEXT NOT NULL, amount DECIMAL(16,2) NOT NULL, paymentmethod TEXT NOT NULL,
  invoiceid INT NOT NULL DEFAULT 0, status TEXT NOT NULL, ipaddress TEXT NOT NULL,
  notes TEXT NOT NULL);
CREATE TABLE tblhosting (
  id INT AUTO_INCREMENT PRIMARY KEY, userid INT NOT NULL, orderid INT NOT NULL,
  packageid INT NOT NULL, server INT NOT NULL, regdate DATE NOT NULL, domain TEXT NOT NULL,
  paymentmethod TEXT NOT NULL, qty INT UNSIGNED NOT NULL DEFAULT 1,
  firstpaymentamount DECIMAL(16,2) NOT NULL DEFAULT 0, amount DECIMAL(16,2) NOT NULL DEFAULT 0,
  billingcycle TEXT NOT NULL, nextduedate DATE NULL, nextinvoicedate DATE NOT NULL,
  termination_date DATE NOT NULL DEFAULT '0000-00-00',
  completed_date DATE NOT NULL DEFAULT '0000-00-00',
  domainstatus ENUM('Pending','Active','Suspended','Terminated','Cancelled','Fraud','Completed')
    NOT NULL DEFAULT 'Pending',
  username TEXT NOT NULL, password TEXT NOT NULL, notes TEXT NOT NULL, subscriptionid TEXT NOT NULL,
  promoid INT NOT NULL DEFAULT 0, promocount INT NULL DEFAULT 0, suspendreason TEXT NOT NULL,
  overideautosuspend TINYINT(1) NOT NULL DEFAULT 0,
  overidesuspenduntil DATE NOT NULL DEFAULT '0000-00-00', dedicatedip TEXT NOT NULL,
  assignedips TEXT NOT NULL, ns1 TEXT NOT NULL, ns2 TEXT NOT NULL,
  diskusage INT NOT NULL DEFAULT 0, disklimit INT NOT NULL DEFAULT 0,
  bwusage INT NOT NULL DEFAULT 0, bwlimit INT NOT NULL DEFAULT 0,
  lastupdate DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblhostingaddons (
  id INT AUTO_INCREMENT PRIMARY KEY, orderid INT NOT NULL, hostingid INT NOT NULL,
  addonid INT NOT NULL, userid INT NOT NULL DEFAULT 0, server INT NOT NULL DEFAULT 0,
  name TEXT NOT NULL, qty INT UNSIGNED NOT NULL DEFAULT 1,
  firstpaymentamount DECIMAL(16,2) NOT NULL DEFAULT 0, setupfee DECIMAL(16,2) NOT NULL DEFAULT 0,
  recurring DECIMAL(16,2) NOT NULL DEFAULT 0, billingcycle TEXT NOT NULL, tax TEXT NOT NULL,
  status ENUM('Pending','Active','Suspended','Terminated','Cancelled','Fraud','Completed')
    NOT NULL DEFAULT 'Pending',
  regdate DATE NOT NULL DEFAULT '0000-00-00', nextduedate DATE NULL,
  nextinvoicedate DATE NOT NULL, termination_date DATE NOT NULL DEFAULT '0000-00-00',
  proratadate DATE NOT NULL DEFAULT '0000-00-00', paymentmethod TEXT NOT NULL,
  notes TEXT NOT NULL, subscriptionid VARCHAR(128) NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tbldomains (
  id INT AUTO_INCREMENT PRIMARY KEY, userid INT NOT NULL, orderid INT NOT NULL,
  type ENUM('Register','Transfer') NOT NULL, registrationdate DATE NOT NULL, domain TEXT NOT NULL,
  firstpaymentamount DECIMAL(16,2) NOT NULL DEFAULT 0,
  recurringamount DECIMAL(16,2) NOT NULL DEFAULT 0, registrar TEXT NOT NULL,
  registrationperiod INT NOT NULL DEFAULT 1, expirydate DATE NULL, subscriptionid TEXT NOT NULL,
  promoid INT NOT NULL DEFAULT 0,
  status ENUM('Pending','Pending Registration','Pending Transfer','Active','Grace','Redemption',
    'Expired','Transferred Away','Cancelled','Fraud') NOT NULL DEFAULT 'Pending',
  nextduedate DATE NOT NULL, nextinvoicedate DATE NOT NULL, additionalnotes TEXT NOT NULL,
  paymentmethod TEXT NOT NULL, dnsmanagement TINYINT(1) NOT NULL DEFAULT 0,
  emailforwarding TINYINT(1) NOT NULL DEFAULT 0, idprotection TINYINT(1) NOT NULL DEFAULT 0,
  is_premium TINYINT(1) NULL, donotrenew TINYINT(1) NOT NULL DEFAULT 0, reminders TEXT NOT NULL,
  synced TINYINT(1) NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblinvoices (
  id INT AUTO_INCREMENT PRIMARY KEY, userid INT NOT NULL, invoicenum TEXT NOT NULL,
  date DATE NULL, duedate DATE NULL, datepaid DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  last_capture_attempt DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  date_refunded DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  date_cancelled DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  subtotal DECIMAL(16,2) NOT NULL, credit DECIMAL(16,2) NOT NULL, tax DECIMAL(16,2) NOT NULL,
  tax2 DECIMAL(16,2) NOT NULL, total DECIMAL(16,2) NOT NULL DEFAULT 0,
  taxrate DECIMAL(10,3) NOT NULL, taxrate2 DECIMAL(10,3) NOT NULL, status TEXT NOT NULL,
  paymentmethod TEXT NOT NULL, paymethodid INT UNSIGNED NULL, notes TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE tblinvoiceitems (
  id INT AUTO_INCREMENT PRIMARY KEY, invoiceid INT NOT NULL DEFAULT 0, userid INT NOT NULL,
  type VARCHAR(30) NOT NULL, relid INT NOT NULL, description TEXT NOT NULL,
  amount DECIMAL(16,2) NOT NULL DEFAULT 0, taxed INT NOT NULL DEFAULT 0, duedate DATE NULL,
  paymentmethod TEXT NOT NULL, notes TEXT NOT NULL, KEY invoiceid (invoiceid));
CREATE TABLE tblaccounts (
  id INT AUTO_INCREMENT PRIMARY KEY, userid INT NOT NULL, currency INT NOT NULL,
  gateway TEXT NOT NULL, date DATETIME NULL, description TEXT NOT NULL,
  amountin DECIMAL(16,2) NOT NULL DEFAULT 0, fees DECIMAL(16,2) NOT NULL DEFAULT 0,
  amountout DECIMAL(16,2) NOT NULL DEFAULT 0, rate DECIMAL(16,5) NOT NULL DEFAULT 1,
  transid TEXT NOT NULL, invoiceid INT NOT NULL DEFAULT 0, refundid INT NOT NULL DEFAULT 0);
CREATE TABLE tblcredit (
  id INT AUTO_INCREMENT PRIMARY KEY, clientid INT NOT NULL, admin_id INT UNSIGNED NOT NULL DEFAULT 0,
  date DATE NOT NULL, description TEXT NOT NULL, amount DECIMAL(16,2) NOT NULL,
  relid INT NOT NULL DEFAULT 0);
CREATE TABLE tblcancelrequests (
  id INT AUTO_INCREMENT PRIMARY KEY, date DATETIME NOT NULL, relid INT NOT NULL,
  reason TEXT NOT NULL, type ENUM('Immediate','End of Billing Period') NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00',
  updated_at TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00');
