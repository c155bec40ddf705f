/**
 * Vocabulary for the generated finance database. Real bank exports repeat the same payees,
 * booking texts and memo phrases over and over with small variations (dates, card numbers,
 * references); the generator combines these lists the same way so that compression ratios
 * resemble those of a real personal-finance database rather than random noise.
 */

export interface CategorySeed {
  name: string;
  kind: 'income' | 'expense' | 'transfer';
  children: string[];
}

export const CATEGORIES: CategorySeed[] = [
  { name: 'Income', kind: 'income', children: ['Salary', 'Bonus', 'Interest', 'Dividends', 'Refunds', 'Gifts received', 'Side business'] },
  { name: 'Housing', kind: 'expense', children: ['Rent', 'Mortgage', 'Utilities', 'Electricity', 'Heating', 'Internet', 'Repairs', 'Furniture'] },
  { name: 'Food', kind: 'expense', children: ['Groceries', 'Restaurants', 'Coffee', 'Takeaway', 'Bakery'] },
  { name: 'Transport', kind: 'expense', children: ['Fuel', 'Public transport', 'Parking', 'Car insurance', 'Car maintenance', 'Taxi', 'Train tickets'] },
  { name: 'Health', kind: 'expense', children: ['Pharmacy', 'Doctor', 'Dentist', 'Health insurance', 'Fitness'] },
  { name: 'Shopping', kind: 'expense', children: ['Clothing', 'Electronics', 'Books', 'Household', 'Online shopping', 'Hobbies'] },
  { name: 'Leisure', kind: 'expense', children: ['Cinema', 'Concerts', 'Streaming', 'Travel', 'Hotels', 'Sports'] },
  { name: 'Family', kind: 'expense', children: ['Childcare', 'School', 'Pocket money', 'Gifts', 'Pets'] },
  { name: 'Finance', kind: 'expense', children: ['Bank fees', 'Taxes', 'Insurance', 'Loan repayment', 'Donations'] },
  { name: 'Transfers', kind: 'transfer', children: ['Between accounts', 'Savings', 'Credit card payment', 'Cash withdrawal'] },
];

/** Payee name, category (child name), typical amount in EUR (negative = spending), how payments happen. */
export interface PayeeSeed {
  name: string;
  category: string;
  typical: number;
  channel: 'card' | 'debit' | 'transfer' | 'online' | 'cash' | 'income';
}

export const PAYEES: PayeeSeed[] = [
  { name: 'REWE Markt', category: 'Groceries', typical: -42, channel: 'card' },
  { name: 'EDEKA', category: 'Groceries', typical: -38, channel: 'card' },
  { name: 'ALDI SUED', category: 'Groceries', typical: -31, channel: 'card' },
  { name: 'LIDL', category: 'Groceries', typical: -29, channel: 'card' },
  { name: 'Kaufland', category: 'Groceries', typical: -55, channel: 'card' },
  { name: 'Denns BioMarkt', category: 'Groceries', typical: -24, channel: 'card' },
  { name: 'Baeckerei Kamps', category: 'Bakery', typical: -6, channel: 'card' },
  { name: 'Starbucks', category: 'Coffee', typical: -5, channel: 'card' },
  { name: 'Coffee Fellows', category: 'Coffee', typical: -4, channel: 'card' },
  { name: 'Vapiano', category: 'Restaurants', typical: -28, channel: 'card' },
  { name: 'Trattoria da Luigi', category: 'Restaurants', typical: -46, channel: 'card' },
  { name: 'Sushi Circle', category: 'Restaurants', typical: -35, channel: 'card' },
  { name: 'Lieferando', category: 'Takeaway', typical: -23, channel: 'online' },
  { name: 'Wolt', category: 'Takeaway', typical: -21, channel: 'online' },
  { name: 'Shell', category: 'Fuel', typical: -64, channel: 'card' },
  { name: 'Aral', category: 'Fuel', typical: -61, channel: 'card' },
  { name: 'TotalEnergies', category: 'Fuel', typical: -58, channel: 'card' },
  { name: 'Deutsche Bahn', category: 'Train tickets', typical: -49, channel: 'online' },
  { name: 'BVG', category: 'Public transport', typical: -86, channel: 'debit' },
  { name: 'MVG', category: 'Public transport', typical: -3.5, channel: 'card' },
  { name: 'APCOA Parking', category: 'Parking', typical: -8, channel: 'card' },
  { name: 'FREE NOW', category: 'Taxi', typical: -19, channel: 'online' },
  { name: 'HUK-COBURG', category: 'Car insurance', typical: -71, channel: 'debit' },
  { name: 'ATU Autoteile', category: 'Car maintenance', typical: -180, channel: 'card' },
  { name: 'dm-drogerie markt', category: 'Household', typical: -18, channel: 'card' },
  { name: 'Rossmann', category: 'Household', typical: -15, channel: 'card' },
  { name: 'IKEA', category: 'Furniture', typical: -120, channel: 'card' },
  { name: 'OBI Baumarkt', category: 'Repairs', typical: -47, channel: 'card' },
  { name: 'Amazon Marketplace', category: 'Online shopping', typical: -34, channel: 'online' },
  { name: 'Zalando', category: 'Clothing', typical: -69, channel: 'online' },
  { name: 'H&M', category: 'Clothing', typical: -39, channel: 'card' },
  { name: 'MediaMarkt', category: 'Electronics', typical: -149, channel: 'card' },
  { name: 'Thalia', category: 'Books', typical: -17, channel: 'card' },
  { name: 'Netflix', category: 'Streaming', typical: -13.99, channel: 'debit' },
  { name: 'Spotify', category: 'Streaming', typical: -10.99, channel: 'debit' },
  { name: 'Disney Plus', category: 'Streaming', typical: -8.99, channel: 'debit' },
  { name: 'CineStar', category: 'Cinema', typical: -24, channel: 'card' },
  { name: 'Eventim', category: 'Concerts', typical: -78, channel: 'online' },
  { name: 'Booking.com', category: 'Hotels', typical: -240, channel: 'online' },
  { name: 'Lufthansa', category: 'Travel', typical: -310, channel: 'online' },
  { name: 'Ryanair', category: 'Travel', typical: -89, channel: 'online' },
  { name: 'McFit', category: 'Fitness', typical: -24.9, channel: 'debit' },
  { name: 'Urban Sports Club', category: 'Fitness', typical: -59, channel: 'debit' },
  { name: 'Apotheke am Markt', category: 'Pharmacy', typical: -14, channel: 'card' },
  { name: 'Dr. med. Schneider', category: 'Doctor', typical: -45, channel: 'transfer' },
  { name: 'Zahnarztpraxis Weber', category: 'Dentist', typical: -120, channel: 'transfer' },
  { name: 'Techniker Krankenkasse', category: 'Health insurance', typical: -210, channel: 'debit' },
  { name: 'Vattenfall', category: 'Electricity', typical: -74, channel: 'debit' },
  { name: 'Stadtwerke', category: 'Heating', typical: -96, channel: 'debit' },
  { name: 'Telekom', category: 'Internet', typical: -44.95, channel: 'debit' },
  { name: 'Vodafone', category: 'Internet', typical: -39.99, channel: 'debit' },
  { name: 'Hausverwaltung Meier GmbH', category: 'Rent', typical: -1150, channel: 'transfer' },
  { name: 'Kita Sonnenschein', category: 'Childcare', typical: -230, channel: 'debit' },
  { name: 'Fressnapf', category: 'Pets', typical: -27, channel: 'card' },
  { name: 'Allianz Versicherung', category: 'Insurance', typical: -32, channel: 'debit' },
  { name: 'Finanzamt', category: 'Taxes', typical: -380, channel: 'transfer' },
  { name: 'Deutsches Rotes Kreuz', category: 'Donations', typical: -20, channel: 'debit' },
  { name: 'Sparkasse Kontofuehrung', category: 'Bank fees', typical: -4.9, channel: 'debit' },
  { name: 'Geldautomat', category: 'Cash withdrawal', typical: -100, channel: 'cash' },
  { name: 'Wochenmarkt', category: 'Groceries', typical: -17, channel: 'cash' },
  { name: 'Kiosk', category: 'Coffee', typical: -3, channel: 'cash' },
  { name: 'ACME Software GmbH', category: 'Salary', typical: 3450, channel: 'income' },
  { name: 'Nordlicht Consulting AG', category: 'Salary', typical: 2980, channel: 'income' },
  { name: 'Etsy Payments', category: 'Side business', typical: 64, channel: 'income' },
  { name: 'Zinsgutschrift', category: 'Interest', typical: 3.2, channel: 'income' },
  { name: 'Trade Republic', category: 'Dividends', typical: 41, channel: 'income' },
  { name: 'PayPal Erstattung', category: 'Refunds', typical: 22, channel: 'income' },
];

export const CITIES = [
  'BERLIN', 'HAMBURG', 'MUENCHEN', 'KOELN', 'FRANKFURT', 'STUTTGART', 'DUESSELDORF', 'LEIPZIG',
  'DORTMUND', 'ESSEN', 'BREMEN', 'DRESDEN', 'HANNOVER', 'NUERNBERG', 'POTSDAM', 'FREIBURG',
];

export const ACCOUNT_SEEDS: Array<{ name: string; type: 'checking' | 'savings' | 'credit_card' | 'cash' | 'brokerage' | 'loan' }> = [
  { name: 'Girokonto', type: 'checking' },
  { name: 'Tagesgeld', type: 'savings' },
  { name: 'Visa Card', type: 'credit_card' },
  { name: 'Wallet', type: 'cash' },
  { name: 'Depot', type: 'brokerage' },
  { name: 'Joint account', type: 'checking' },
  { name: 'Mastercard Gold', type: 'credit_card' },
  { name: 'Car loan', type: 'loan' },
];

export const INSTITUTIONS: Array<{ name: string; bic: string }> = [
  { name: 'Sparkasse Berlin', bic: 'BELADEBEXXX' },
  { name: 'ING', bic: 'INGDDEFFXXX' },
  { name: 'DKB', bic: 'BYLADEM1001' },
  { name: 'Commerzbank', bic: 'COBADEFFXXX' },
  { name: 'N26', bic: 'NTSBDEB1XXX' },
  { name: 'Trade Republic', bic: 'TRBKDEBBXXX' },
];

/** What people type into the memo field themselves. */
export const USER_MEMOS = [
  'weekly groceries', 'birthday present for Anna', 'dinner with Tom and Lisa', 'split with flatmates',
  'office lunch', 'fuel for the trip to the coast', 'new winter jacket', 'school trip contribution',
  'vet visit', 'monthly savings', 'reimbursed by employer', 'holiday souvenirs', 'coffee before the meeting',
  'parking at the airport', 'replacement phone charger', 'Christmas shopping', 'anniversary dinner',
  'train to Hamburg', 'gym membership', 'kids football club', 'pharmacy (cold medicine)', 'gift card',
  'return pending', 'warranty claim', 'bought on sale', 'shared taxi', 'weekend market', 'BBQ supplies',
  'printer ink', 'bike repair', 'concert tickets', 'hotel deposit', 'team event', 'books for university',
  'garden plants', 'paint for the living room', 'donation', 'tip included', 'paid for Mum', 'refund expected',
];

export const TAGS = ['tax-deductible', 'vacation', 'business', 'reimbursable', 'recurring', 'family', 'health', 'car', 'home', 'review'];

export const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
