"""Demo content for SupportDesk: the fictional outdoor store "Acme Outfitters".

Pure Python data, no Django imports. A seeding command (or a data migration) turns
these structures into Intent, TrainingPhrase, EscalationSignal and Article rows.

Everything here was written for this project. The public evaluation sets in
``../shared/eval/`` are benchmarks only: none of their sentences are copied here.
"""

import textwrap

COMPANY = {
    "name": "Acme Outfitters",
    "support_email": "help@acme-outfitters.example",
    "support_phone": "+1 800 555 0142",
    "hours": "Monday-Friday 8:00-20:00 ET, Saturday-Sunday 9:00-17:00 ET",
    "website": "https://acme-outfitters.example",
}

GREETING = (
    "Hi! I'm the Acme Outfitters assistant. Ask me about orders, returns, shipping or our gear."
)

# ---------------------------------------------------------------------------
# Training phrases, one list per intent
# ---------------------------------------------------------------------------

_ORDER_STATUS = [
    "when will order 30871 get to me",
    "where is my package now",
    "my package, where is it at?",
    "has my parcel left your warehouse yet",
    "can I follow my parcel online",
    "how do I track my parcel",
    "where is my order",
    "Where's my order 55102?",
    "Can you tell me the status of order #88213?",
    "track my acme parcel",
    "i want to track order A-55102",
    "has my tent shipped yet",
    "What's the current status of my purchase?",
    "I ordered a Summit Down Jacket last week, where is it now?",
    "Could you check on order 40917 for me please",
    "order status A-77310",
    "how do I track a package from you guys",
    "Is there a tracking link for my order?",
    "I never got a tracking number for order #61234",
    "I can't see my order anywhere in my account, can you look it up?",
    "has order 55102 left the warehouse",
    "What stage is my order at right now?",
    "my order says processing for 4 days now, what's going on",
    "Is my backpack order on its way?",
    "I'd like an update on the purchase I made on March 3",
    "Please check where my hiking boots are, order A-10442",
    "whats the status of my stuff",
    "where has my purchase 30388 got to",
    "help me locate my order",
    "I can't find the order I placed yesterday, did it go through?",
    "Tracking says label created, has it actually shipped?",
    "has my package been dispatched",
    "how can I check my order status online",
    "where do i find the tracking info for my order",
    "estimated arrival of order 72915?",
    "ETA for purchase A-20931",
    "When is order #48820 expected at my door?",
    "Did my order go through and has it been sent out?",
    "Is order 55102 out for delivery today?",
    "status update on my sleeping bag order please",
    "trak my order pls",
    "wheres my oder",
    "Could you look up order number 91027 and tell me where it is?",
    "I placed an order on 12 May and haven't heard anything since",
    "The tracking page hasn't updated in three days for order #66301",
    "Which carrier is bringing my order?",
    "give me the tracking number for A-55102",
    "I'd like to follow my order's progress",
    "is my order still being packed",
    "Has anything happened with my order since Monday?",
    "check the status of my acme order",
    "Hi, just wondering where my order is at",
    "Order 83014 - any news?",
    "can you tell me if my purchase has been shipped",
    "I want to see how far along my order is",
    "Hello, I'm trying to track the jacket I bought but the link shows nothing",
    "Order confirmation came but no shipping e-mail, where is my order?",
    "my order number is 55102 where is it",
    "Is there a way to follow my order in real time?",
    "What does 'in transit' mean on my order page?",
    "it's been a week, has my order even shipped",
    "tell me the status of my recent purchase",
    "need help tracking purchase 10293",
    "Can you find out where my Trailblazer 3 tent is?",
    "follow up on order A-67890",
    "status of my order from last Friday?",
    "has the warehouse processed my order yet",
    "I'd like to know where my purchase currently is",
    "what's happening with my order",
    "Any update on #20457?",
    "order tracking",
    "I need the current status of purchase A-31337",
    "Is it possible to check where order 77120 is?",
    "how do i see the tracking for my purchase",
    "I bought a gift card and a backpack on 2 June, where are they?",
    "Could you please confirm whether my order has been sent?",
    "can u check my order 58203",
    "I'd love to know when order A-44816 is going to show up",
    "Has my purchase been handed to the courier yet?",
    "order #30055 still not shipped??",
    "What is the tracking status of my Alpine GTX boots?",
    "Is my order ready? I ordered on the 5th",
    "how do I find out where my purchase is",
    "which page shows what stage my orders are at",
    "My order page says 'awaiting dispatch', what does that mean?",
]

_RETURN_REQUEST = [
    "how do exchanges work at Acme",
    "explain how an exchange works",
    "how does swapping an item for another size work",
    "what is your exchange policy",
    "I want to return my jacket",
    "how do I return an item",
    "Can I send back the boots? They're too small.",
    "I'd like a refund for order 55102",
    "refund please",
    "How do I get my money back?",
    "What is your refund policy?",
    "What's your return policy for used gear?",
    "Can I return a tent I've already set up once?",
    "Is there a time limit on returns?",
    "how many days do i have to return something",
    "I'm still waiting on my refund of $49.99",
    "When will I get my refund?",
    "I want to track my refund",
    "Where is my refund? It's been 2 weeks",
    "the refund for order #88213 hasn't shown up on my card",
    "I returned the sleeping bag on June 2 and haven't been refunded",
    "Can I exchange these boots for a bigger size?",
    "I need a return label",
    "How do I print a return shipping label?",
    "Do I have to pay for return shipping?",
    "is sending a return free",
    "I'd like to be reimbursed for the backpack, the zipper is faulty",
    "Can I get reimbursed for the broken tent pole?",
    "I'd like to request a reimbursement",
    "how do i ask for a rebate",
    "Do you offer a money-back guarantee?",
    "Am I eligible for a refund if I opened the package?",
    "Which situations qualify me for my money back?",
    "under what conditions do you give refunds",
    "Can I return a gift I received?",
    "Are gift cards returnable?",
    "I want to return items I bought on sale",
    "Can I return an in-store purchase by mail?",
    "Is the refund paid to my original payment method or as store credit?",
    "can I get store credit instead of a refund",
    "How long do refunds take to process?",
    "my refund status says pending, what does that mean",
    "I sent my return back last week, did you receive it?",
    "need to send back 2 items from A-55102",
    "want my money back for the jacket",
    "the boots don't fit, what now",
    "This tent is not what I expected, I want to return it",
    "Return request for order 40917",
    "start a return",
    "how to start a return online",
    "I was promised a refund of 20 EUR, where is it?",
    "I'm owed $120 from a return",
    "still no refund after 10 business days",
    "Can you check if my refund was issued?",
    "The jacket went on sale two days after I bought it, can I get the difference back?",
    "do you refund shipping costs",
    "Will I get the delivery fee back if I return my order?",
    "Is there a restocking fee?",
    "Can I return worn hiking boots?",
    "returns policy for sleeping bags",
    "retrun my order",
    "how do i get a refnd",
    "Refund policy for final sale items?",
    "Can I return something after 30 days?",
    "I missed the return deadline by two days, can you still accept it?",
    "where do I ship my return to",
    "Can I drop off my return at a post office?",
    "I'd like to exchange it for a different colour",
    "I'd like to swap the Ridgeline 45L for the 60L version",
    "Returning the Summit Down Jacket, wrong size",
    "how do I know my refund has been processed",
    "check refund status for return A-55102",
    "I'd like some compensation for the $35 I paid",
    "I expect to be reimbursed 80 dollars",
    "what are the terms of your money back guarantee?",
    "Refund hasn't arrived in my PayPal",
    "Got an email saying refund issued but nothing in my account",
    "Can my refund go to a different card?",
    "I paid with a gift card, how will I be refunded?",
    "is it possible to return only part of my order",
    "what items cannot be returned",
    "The stove I got is not the one I ordered, I'd like to return it",
    "I want to send this back and get a refund, it's defective",
    "Can I still return my purchase from 15 March?",
    "Please process my refund",
    "can u refund me",
    "I'd like to know how refunds work at Acme",
    "How do I claim back the money for a returned item?",
    "What's the status of my reimbursement?",
    "The return label you sent me is blank",
    "I'd like to return a backpack I bought for my son",
    "Refund timeline?",
    "How long until the refund hits my bank?",
    "when do i see my money after returning",
    "Hi, I need to return a pair of boots and get the money back please",
    "Return for store credit",
    "returns",
    "I want to know if I qualify for a refund",
    "i'm waiting for 64.50 to be refunded, any news?",
    "Has my refund of $212 been sent yet?",
    "can i get a refund on a tent with a torn fly",
    "what's the deadline for refunds",
    "Could you explain how reimbursements are handled?",
    "Where can I read your returns and refunds rules?",
    "I need to know when my money will come back from the return",
    "I'm waiting for compensation of $74.90, has it been processed?",
    "I expect restitution of 39 dollars for the returned boots",
    "has my restitution been sent yet",
    "any news on the rebate for my return?",
    "how do I request compensation for a faulty product",
    "I paid $230 for the tent and I'd like a rebate",
    "can you help me get my money back for the sleeping bag",
    "I insist on being reimbursed for the faulty stove",
    "I'd like to obtain a refund for my returned jacket",
    "in which cases am I allowed to ask for my money back?",
    "are service charges refundable",
    "is the gift wrapping fee reimbursable?",
    "I'd like to see whether there's an update on my reimbursement",
    "can you help me check the status of my compensation",
    "I'm expecting 150 dollars back, was it processed?",
    "when is my reimbursement coming",
    "I need assistance requesting a refund",
    "I don't know how to ask for a refund",
]

_BILLING_DISPUTE = [
    "I was charged twice for my order",
    "double charge on my credit card",
    "You charged me $89.99 but the total was $69.99",
    "wrong amount charged",
    "My card keeps getting declined at checkout",
    "payment failed but the money was taken",
    "I want to dispute a charge",
    "There's a charge from Acme I don't recognize",
    "Why was I billed again this month?",
    "I was overcharged",
    "My payment won't go through",
    "PayPal payment failed, what do I do?",
    "Can't complete payment, error every time",
    "There's an issue with my payment",
    "something went wrong paying for my boots and I need it looked at",
    "having trouble paying online",
    "Apple Pay didn't work and now I see a pending charge",
    "The discount code wasn't applied but I was charged full price",
    "charged for delivery even though my order was over $75",
    "I was charged for an item I cancelled",
    "You took money from my account without an order",
    "duplicate payment",
    "payment declined but my bank says everything is fine",
    "My bank shows two transactions of 20 EUR",
    "I got billed the wrong price for the tent",
    "charged in USD instead of EUR",
    "There is an error in the amount you billed me",
    "The charge of $149.00 on 3 April is wrong",
    "The price changed between cart and checkout and I paid more",
    "Why did my card get charged before the order shipped?",
    "I'd like to contest a payment",
    "i cant pay for my order",
    "my payment keeps failing",
    "I get a payment error code when I try to pay",
    "My transaction was rejected",
    "I paid but the order shows unpaid",
    "Gift card balance was deducted twice",
    "I was charged for express delivery but got standard",
    "Your site took my payment 3 times",
    "Help, I see multiple charges from Acme Outfitters",
    "The amount on my statement doesn't match my receipt",
    "you charged me sales tax I shouldn't have paid",
    "My Rewards discount wasn't applied and I paid the full amount",
    "I want this charge reversed",
    "Please take back the duplicate charge",
    "Can't use my Visa, it's declined",
    "error processing payment",
    "my payment has been pending for a week",
    "There's an unexpected fee on my card",
    "card was charged but checkout crashed",
    "payment issue with my tent order",
    "problems with my payment",
    "I want to report a failed payment",
    "I want to notify you of an erroneous charge",
    "billing error on order 55102",
    "You charged me $240 instead of $120",
    "pay wont go thru",
    "my credit card was billed incorrectly",
    "Mastercard says declined, tried 3 times",
    "I need to dispute the amount on order #40917",
    "Klarna charged me the full amount instead of 4 instalments",
    "incorrect charge",
    "I was charged a restocking fee nobody told me about",
    "the payment didn't go through, but I still got charged",
    "Why was my debit card charged $1?",
    "I want to open a billing dispute",
    "my payment keeps bouncing back",
    "Klarna charged me twice",
    "online payment not working, can you help me report it",
    "The checkout rejects my card for no reason",
    "my payment was refused",
    "I keep getting 'payment unsuccessful'",
    "I'd like to flag a mistake with a payment",
    "i was billed 2x for the same jacket",
    "Money left my account on 14 July but there's no order",
    "why is there a charge of 59.95 on my statement",
    "I paid 120 EUR and you charged 135 EUR",
    "wrong total on my card",
    "my bank card isn't being accepted",
    "I need to let you know about an error with online payment",
    "my card payment on the website broke, where do I flag that",
    "I'd like to notify you of a payment issue on my order",
    "paying for my cart failed twice, who handles that?",
    "the online payment step keeps erroring out for me, please sort it",
    "I want to inform you that my payment isn't working",
    "what do I do to report a payment error",
    "can you fix an issue with my payment",
    "where do I report problems with payments",
    "I need help sorting out troubles with my payments",
    "I want to let you know about errors with payments",
    "who can I tell about a trouble with paying",
]

_COMPLAINT = [
    "I want to file a complaint",
    "What's the way to make a complaint at Acme?",
    "I'd like to lodge a formal complaint about your service",
    "Your customer service team was rude to me",
    "Terrible experience, I'm not happy at all",
    "The quality of this jacket is awful",
    "I want to complain about the delivery driver",
    "Nobody answered my emails for a week, this is ridiculous",
    "I'm very disappointed with my purchase",
    "This is the worst shopping experience I've ever had",
    "The tent leaked on its first night, I'm unhappy with the quality",
    "I have a complaint about one of your staff",
    "Where do I send a complaint?",
    "I need to submit a grievance",
    "I'm dissatisfied with how my issue was handled",
    "your service is terrible",
    "I'm fed up with your company",
    "I want to report bad service",
    "Your phone support hung up on me",
    "I was treated badly in your Denver store",
    "I want to give some negative feedback about my experience",
    "Complaint: the sole of my boots came off after a month",
    "the zipper broke after two uses, really poor quality",
    "I want to make a claim about your service",
    "help me write a complaint",
    "How can I take my complaint further?",
    "I am not satisfied with your answers",
    "You keep sending me the wrong things and I'm sick of it",
    "This is unacceptable, I've been waiting for an answer for days",
    "really bad experience with acme",
    "I'd like to raise a complaint regarding order 55102",
    "Is there a complaints department?",
    "i wanna complain",
    "I intend to complain formally about Acme Outfitters",
    "The packaging was excessive and wasteful, I want to complain",
    "Your adverts are misleading",
    "The product description was false",
    "The jacket smells of chemicals and nobody seems to care",
    "Bad customer support",
    "I was promised a callback that never happened",
    "My previous complaint was ignored",
    "Your returns team lost my parcel and won't take responsibility",
    "I'm really upset with the service I received",
    "Your warehouse sent me a used sleeping bag, disgusting",
    "The person on the phone was unhelpful and condescending",
    "Formal complaint regarding misleading sale prices",
    "complaint",
    "I'm unhappy with Acme",
    "Poor service, poor product",
    "I expect better from a brand like yours",
    "I need you to hear how badly this went",
    "I'd like to report a problem with an employee",
    "The store staff were rude and dismissive",
    "your company keeps letting me down",
    "I want to leave a complaint about the quality of the Alpine GTX boots",
    "I'm writing to express my dissatisfaction",
    "filing a complaint about hidden fees",
    "Unhappy with the way my return was handled",
    "as a consumer I want my complaint formally recorded",
    "I'm angry about how I've been treated",
    "The product broke and your support brushed me off",
    "how do I give feedback about a bad experience",
    "you people are hopeless",
    "Worst customer experience ever",
    "I want to complain about the lack of response",
    "I am writing to complain about the condition of the item I received",
    "how can i register a complaint",
    "I'd like to put in a complaint, please tell me how",
    "so dissapointed with your service",
    "the service I got on 8 May was shocking and I want it on record",
    "this company is a joke",
    "Can I file a claim about how I was treated?",
    "What is the procedure for complaints?",
    "I'd like to lodge a claim about the way you treated me",
    "can you help me put in a customer claim against Acme",
    "how do i file a consumer claim about your store",
    "I need to make a reclamation about a bad experience",
    "where do I submit a formal reclamation",
    "I want to raise a claim against your business for poor service",
    "not sure how to lodge a complaint, can you assist",
    "i don't know where to file my grievance about your staff",
    "need help making a customer claim about the rude courier you hired",
    "Is there a form for consumer complaints?",
    "I have to file a claim about how my case was dealt with",
    "could you assist me in lodging a complaint against your organisation",
    "I'm calling to register a reclamation regarding your service",
    "help with filing a complant",
    "lodging a grievance about the store in Portland",
    "What do I need to do to lodge a claim with your company?",
]

_CANCELLATION = [
    "cancel my order",
    "I want to cancel order 55102",
    "Please cancel #88213",
    "How do I cancel an order?",
    "Can I still cancel my order if it has shipped?",
    "cancel purchase A-55102",
    "I changed my mind, please cancel",
    "Stop my order before it ships",
    "I ordered by mistake, cancel it",
    "Cancel the tent I ordered this morning",
    "Is it too late to cancel?",
    "How long do I have to cancel an order?",
    "Is there a fee to cancel?",
    "any fee for cancelling?",
    "Do you charge a cancellation fee?",
    "What are the cancellation charges",
    "How much does it cost to cancel?",
    "Are there any penalties for cancelling?",
    "is there an early termination fee",
    "Is there a charge for ending my Rewards Plus membership?",
    "what would cancelling cost me in fees",
    "I want my Acme account deleted",
    "What are the steps to close my Acme account?",
    "Please remove my account and all my data",
    "delete my profile",
    "I'd like to terminate my Acme account",
    "Close my Acme Rewards account",
    "How do I deactivate my account?",
    "Remove my customer account permanently",
    "I want to get rid of my account",
    "Can you erase my account?",
    "i want to delete my acount",
    "How do I cancel my Acme Rewards Plus membership?",
    "Please cancel the gift card I just bought",
    "cancel one item from my order",
    "Can I cancel part of my order?",
    "Take the boots off my order before it ships",
    "I placed the same order twice, cancel one of them",
    "canceling an order I made at acme",
    "cancelation of order 30388",
    "Kill my order please",
    "I don't want the order anymore",
    "I no longer need the jacket, please cancel the order",
    "Cancel my order, it's taking too long",
    "What happens if I cancel after it ships?",
    "Can I cancel an order I paid for with a gift card?",
    "Will I get my money back if I cancel?",
    "Need to cancel urgently, order placed 5 minutes ago",
    "cancel order pls",
    "cancle my order",
    "how to cancel a purchase",
    "where is the cancel button for my order",
    "I can't find how to cancel my order online",
    "purchase 72915 - please help me cancel it",
    "I want to withdraw my order",
    "Void my order",
    "Please cancel everything I ordered today",
    "Can I cancel a pre-order?",
    "Cancel my backorder for the Summit Down Jacket",
    "Delete my account and unsubscribe me from everything",
    "I'd like to close my online account for good",
    "How can I remove my free account?",
    "delete my Summit tier profile",
    "what do I need to do to terminate my membership",
    "Account deletion request",
    "GDPR request: delete my account",
    "Remove all my personal data and close my account",
    "Cancel my Acme account entirely",
    "I want out, delete everything",
    "Is there a fee for closing my account?",
    "Do I lose my points if I close my account?",
    "Will cancelling my Rewards membership cost anything?",
    "Are there fees for cancelling an order after dispatch?",
    "How much will I be charged if I cancel my custom order?",
    "Are cancellation fees refundable?",
    "I'd like to know about your cancellation policy",
    "cancellation policy",
    "What is the deadline for cancelling an order?",
    "Cancel A-20931 and refund my card",
    "Please stop order 40917, I found it cheaper elsewhere",
    "Can you cancel my order so I can place a new one in the right size?",
    "I accidentally ordered the wrong color, cancel it please",
    "I want to cancel my order of the Ridgeline 45L",
    "Cancel the order, I'll buy it in store",
    "how do i cancel",
    "Can I cancel online or do I need to call?",
    "deactivate my Acme login",
    "Close the account registered to this email",
    "I have two accounts, please delete the old one",
    "help me cancel an order i just made",
    "what's the charge for early cancellation",
    "how do I cancel my premium membership",
    "I want my account closed",
    "cant figure out how to delete my acme account",
    "Is removing my account free of charge?",
    "What penalty applies if I cancel order #61234?",
    "I don't need order 28841 anymore, can you cancel it?",
    "I can't afford order 55102 anymore, please cancel it",
    "I can no longer pay for this purchase, can it be cancelled?",
    "money is tight, I need to call off my order",
    "what are the early exit fees for Rewards Plus",
    "is there an early exit penalty if I quit the membership",
    "where can I see the withdrawal fee for an order",
    "do I pay a withdrawal penalty for backing out of a custom order",
    "show me the termination penalty for leaving Rewards Plus",
    "I'd like to know the termination charges before I close my account",
    "how much is the exit fee",
    "can you help me call off purchase 2023118845",
    "purchase 7781203349 was a mistake, please void it",
    "I don't know how to cancel order 40917, can you help?",
    "not sure what to do to cancel my purchase from this morning",
    "cancelling order 99120034 please",
    "I'd like help to back out of my recent purchase",
    "can you help me remove my Rewards account",
    "I don't know how to close my membership account",
    "what do I have to do to delete my gold member profile",
    "i need to cancl my order, where do i do that",
]

_ACCOUNT_ACCESS = [
    "I forgot my password",
    "Reset my password",
    "How do I recover my password?",
    "The password reset email never arrived",
    "I can't log in to my account",
    "My account is locked",
    "locked out after too many attempts",
    "The reset link has expired",
    "I don't remember my login details",
    "Which email did I sign up with?",
    "can't sign in",
    "forgot pasword",
    "Can't register, it says my email is already in use",
    "Sign up isn't working",
    "I'm having trouble creating an account",
    "The registration form keeps giving an error",
    "The verification email didn't come",
    "I never got the account confirmation email",
    "How do I verify my email address?",
    "Can't complete registration",
    "error when signing up",
    "registering on your site fails, who can look at it?",
    "The sign-up page won't accept my phone number",
    "The account activation link doesn't work",
    "I need help getting back into my account",
    "Recover my account",
    "I've lost access to my account",
    "I changed my email and now I can't log in",
    "Two-factor code not arriving",
    "my 2FA code is rejected every time",
    "I lost my phone with the authenticator app",
    "password recovery for my Acme login",
    "How can I change my password?",
    "I'd like to set a new password",
    "my login doesnt work",
    "It says incorrect password but I'm sure it's right",
    "Username recovery",
    "I forgot my username",
    "I can't create a Rewards account",
    "Registration problems",
    "Signing up gives me 'invalid email'",
    "The captcha on the registration page won't load",
    "my account PIN has slipped my mind",
    "My account was suspended, how do I get it back?",
    "Can't access my account",
    "someone changed my password and I can't get in",
    "I signed up but can't log in",
    "It keeps rejecting my new password, what are the rules?",
    "How do I retrieve my login credentials?",
    "Need to regain access to my profile",
    "The reset password button does nothing",
    "Registration says my date of birth is invalid",
    "I'm trying to register but never receive the code",
    "It says my account doesn't exist",
    "I want to sign up but the form freezes",
    "Help me log back in",
    "Login problem",
    "Is there a way to recover a forgotten password without email access?",
    "I no longer have access to the email on my account",
    "Account recovery please",
    "my new account isn't working",
    "cant register",
    "I made an account but it says pending verification",
    "how do i get a new password",
    "password reset not working",
    "I need to unlock my account",
    "forgot my security PIN",
    "I typed the wrong email when registering",
    "Can't finish signing up, the button is greyed out",
    "what do i do if i forgot my password",
    "i keep getting 'account not found' when i try to log in",
    "I'd like help with a sign-up error",
    "I can't get past the login screen",
    "my profile password needs restoring, I've forgotten it",
    "what's the process to get my account key back",
    "lost my login key, how do I get a new one",
    "i dont know how to get back my pwd",
    "the PIN on my Acme profile needs resetting",
    "passcode for my account is gone from my memory, what now",
    "I've lost the pass to my Acme profile",
    "lost password - what are my options to get in again?",
    "what do I do to get my access code back",
    "I don't know how to retrieve my user credentials",
    "sign-up on your site is faulty and I'm flagging it",
    "signup is broken, I need to let you know",
    "can you help me, I got an error signing up",
    "I need to tell you about a registration error",
    "having signup issues on the website",
    "there's a problem with my registration, who do I notify",
    "I'm not able to register on the Acme site",
    "what should I do if I can't sign up",
    "help me restore access with my user key",
    "the sign up fails every time i try",
]

_TECHNICAL_SUPPORT = [
    "The app keeps crashing",
    "Your website won't load",
    "Checkout page shows an error",
    "The Acme app crashes when I open my orders",
    "Page not found when I click on the tent",
    "My GPS watch won't sync with the app",
    "The Acme Trail GPS Watch isn't pairing over Bluetooth",
    "How do I update the firmware on my watch?",
    "The site is really slow",
    "The add to cart button doesn't work",
    "Promo code field is missing on mobile",
    "Images aren't loading on your site",
    "The app says 'something went wrong'",
    "I get error 500 on the checkout",
    "The size chart won't open",
    "Your website doesn't work on Safari",
    "The app won't install on my Android",
    "iPhone app stuck on loading screen",
    "Push notifications not working",
    "The app logs me out all the time",
    "The store locator map is broken",
    "The live chat window doesn't open",
    "Search returns no results even for 'tent'",
    "Filter by size doesn't work",
    "My cart keeps emptying itself",
    "Wishlist isn't saving items",
    "The Ember heated vest battery isn't charging",
    "Headlamp won't turn on after charging",
    "How do I connect the solar charger to my phone?",
    "The watch shows the wrong altitude",
    "The app won't let me upload a photo",
    "Website is down",
    "Getting a blank white page",
    "The 3D tent viewer won't load",
    "Error 403 when I try to view my orders",
    "The app is in the wrong language",
    "Dark mode makes the text unreadable",
    "Browser says the site isn't secure",
    "Your emails display as garbage characters",
    "App doesn't show my Rewards points",
    "bug on your website",
    "I found a bug in the app",
    "Something's broken on the product page",
    "The trail map won't download for offline use",
    "Watch sync fails with error E12",
    "How do I reset my GPS watch to factory settings?",
    "Step counter on the watch seems off",
    "The app drains my battery",
    "Video on the product page won't play",
    "The site keeps redirecting me to the homepage",
    "Clicking checkout takes me back to the cart",
    "can't zoom in on product pictures",
    "App won't update",
    "tech support please",
    "Technical problem with your app",
    "my watch isn't showing phone notifications",
    "The website layout is broken on my tablet",
    "The cookie banner won't go away",
    "The chat keeps disconnecting",
    "the app freezes when i scan a barcode",
    "Route won't transfer from the app to my watch",
    "Is the Acme app compatible with Android 10?",
    "site error when I click Place Order",
    "The GPS watch loses signal under trees",
]

_PRODUCT_QUESTION = [
    "What size Summit Down Jacket should I get?",
    "Is the Trailblazer 3 Tent waterproof?",
    "How much does the Ridgeline 45L Backpack weigh?",
    "Are the Alpine GTX boots true to size?",
    "What temperature is the sleeping bag rated for?",
    "Is this jacket machine washable?",
    "How do I wash a down jacket?",
    "Does the tent come with a footprint?",
    "What's the difference between the 45L and 60L backpacks?",
    "Do you have the Alpine GTX in wide fit?",
    "Is the Summit jacket available in XXL?",
    "When will the green jacket be back in stock?",
    "Does the backpack fit a 15 inch laptop?",
    "Can the Trailblazer 3 sleep three adults comfortably?",
    "Are your boots vegan?",
    "What is the jacket's fill power?",
    "Is the down responsibly sourced?",
    "Which sleeping bag is best for winter camping?",
    "Recommend a tent for two people",
    "Is the backpack carry-on size?",
    "How do I re-waterproof my jacket?",
    "Do the boots need breaking in?",
    "What material is the tent floor?",
    "Does the jacket have a hood?",
    "What amounts do gift cards come in?",
    "Is there a women's version of the Ridgeline?",
    "What's the warranty on the tent?",
    "Do you have a size guide?",
    "I'm 6'1 and 190 lbs, what size jacket?",
    "Can I use the Alpine GTX boots with crampons?",
    "How packable is the down jacket?",
    "Is the tent freestanding?",
    "how many poles does the trailblazer have",
    "Which boots are best for wide feet?",
    "Is the Summit Down Jacket warm enough for -20 C?",
    "Do you sell replacement tent poles?",
    "Can I get spare parts for the backpack hip belt?",
    "Does the sleeping bag come with a compression sack?",
    "What colours does the jacket come in?",
    "Is the backpack hydration compatible?",
    "Does it come in kids sizes?",
    "Can I store the down sleeping bag compressed?",
    "Is the tent good in strong wind?",
    "What's the packed size of the Trailblazer 3?",
    "Are the boots waterproof or just water resistant?",
    "Difference between GTX and non-GTX?",
    "Does the jacket run small?",
    "Product dimensions for the Ridgeline 45L?",
    "Is this item in stock?",
    "Do you have this in stock in my size?",
    "Which jacket do you recommend for skiing?",
    "Is the Summit jacket windproof?",
    "How do I clean muddy hiking boots?",
    "Can the sleeping bag be zipped to another one?",
    "Will you restock the boots in 10.5?",
    "Does the tent include a rainfly?",
    "What's the torso length range on the Ridgeline?",
    "Is the backpack waterproof?",
    "Are your tents PFAS free?",
    "Where are your jackets made?",
    "How warm is the Cascade 20 sleeping bag?",
    "do the hiking boots have a vibram sole",
    "Compare the Trailblazer 2 and Trailblazer 3",
    "Does the Summit Down Jacket have inner pockets?",
    "Can I wash the sleeping bag at home?",
    "what's the best backpack for a 3 day hike",
    "Is the Cascade 20 good for side sleepers?",
]

_SHIPPING_ISSUE = [
    "How long does shipping take?",
    "How long will delivery take to Canada?",
    "When will my parcel arrive?",
    "How soon can I get my boots?",
    "What are the delivery times for standard shipping?",
    "How many days does express take?",
    "Do you ship internationally?",
    "Can you deliver to Germany?",
    "Is Austria on your list of delivery countries?",
    "What shipping options do you have?",
    "Is there free shipping?",
    "How much is express delivery?",
    "Can I pick up my order in store?",
    "Do you offer next-day delivery?",
    "Do you deliver on Saturdays?",
    "Can I choose a delivery date?",
    "Do you ship to PO boxes?",
    "Which couriers do you ship with?",
    "my shipping address changed, please update it",
    "Wrong address on my order, can you fix it?",
    "I moved, update the delivery address for order 55102",
    "How do I add a new shipping address to my account?",
    "Set up a default shipping address",
    "Can I ship to a different address than my billing one?",
    "How do I edit my saved addresses?",
    "I typed the wrong zip code",
    "Can I have the order sent to my office instead?",
    "My package is lost",
    "Parcel marked delivered but it's not here",
    "My order arrived damaged",
    "The box was crushed and the tent poles are bent",
    "Delivery is late",
    "My package is a week late",
    "The courier left my parcel out in the rain",
    "Package delivered to the wrong house",
    "Only part of my order arrived",
    "I'm missing an item from my delivery",
    "The delivery guy never showed up",
    "Parcel stuck in customs",
    "Do I have to pay customs duties?",
    "How long is shipping to Hawaii?",
    "Can you ship to an APO address?",
    "Can I get it by Friday?",
    "Will it arrive before Christmas?",
    "What is the cut-off time for same-day dispatch?",
    "Does express shipping deliver on weekends?",
    "shipping cost?",
    "how much to ship a tent to the UK",
    "delivery options",
    "which delivery methods can I pick",
    "Could I get my order delivered to a parcel locker?",
    "Can I reroute my package?",
    "Can the carrier hold my package at the depot?",
    "My parcel was returned to sender",
    "Failed delivery attempt, what now?",
    "Please arrange a redelivery of my package",
    "Change the address on order #88213 before it ships",
    "need 2 fix the adress my parcel goes to",
    "Can my account hold several shipping addresses?",
    "The checkout won't accept my shipping address",
    "What's the usual wait between ordering and the parcel turning up?",
    "What's the estimated delivery time to Texas?",
    "when can I expect my new backpack to arrive",
    "how quickly do you deliver",
    "Shipping times to Europe?",
    "Do you ship to Australia and how long does it take?",
    "What are your delivery charges?",
    "Is shipping free over a certain amount?",
    "The tracking says it was left with a neighbour I don't know",
    "My package has been sitting at the sorting centre for days",
    "The box was already opened when it arrived",
    "The parcel was soaking wet",
    "My items were broken in transit",
    "the carrier damaged my sleeping bag",
    "I need to update the shipping address on my account",
    "Where in my account can I type in a new delivery address?",
    "Can I ship a gift straight to my friend?",
    "Can I change the delivery method after ordering?",
    "upgrade my order to express shipping",
    "Switch my delivery to store pickup",
    "Can you get parcels to rural addresses in the countryside?",
    "Can you ship to Puerto Rico?",
    "when will my stuff get here",
    "The shipping address is wrong",
    "I want my order shipped somewhere else",
    "My house number is missing from the address",
    "Delivery took way longer than promised",
    "It was supposed to arrive yesterday",
    "my parcel hasnt arrived yet and it's been 10 days",
    "package lost in the mail",
    "Is my delivery insured?",
    "The driver says the address doesn't exist",
    "how many business days for standard delivery",
    "i'd like to add a second address for deliveries",
    "How fast can you get a tent to Vancouver?",
    "France-based customer here, will you deliver to me?",
    "what delivery speeds are available",
    "I'd like to correct the street name on my delivery",
    "how soon will my order get to me if I pay for express",
    "My delivery address has a typo, please help",
    "Where do I save a new address for shipping?",
    "I'm shopping from Spain, do you send orders there?",
    "how long before my purchase reaches me",
    "I live in Ireland, can I still buy from Acme?",
    "is it possible to buy from you if I live in Japan?",
    "I'm in Mexico, can I order from your store?",
    "can I order from Toronto and have it sent here",
    "do you send parcels to Scotland?",
    "is ordering from Sweden possible",
    "what shipment options do you offer",
    "which shipment methods are on offer for my parcel?",
    "which ways of shipping can I choose between",
    "can you list your delivery methods",
    "what shipping choices are there at checkout",
    "no idea when my order will turn up, how long does it usually take",
    "can you tell me how soon I'll receive my purchase",
    "I want to know when my item is coming",
    "how soon can I expect delivery of a backpack",
    "when is my purchase gonna arrive",
    "what is the delivery period for orders to Chicago",
    "Liverpool is where I live, can you send things there",
    "my account has no shipping address yet, how do I add one",
    "first time ordering, where do I put my delivery address in my profile?",
    "the street on my shipping address needs editing",
    "I want to enter a different address for delivery",
]

_GENERAL_INQUIRY = [
    "What are the ways to reach Acme customer service?",
    "What's your phone number?",
    "What is your customer support email?",
    "When are you open?",
    "What are your opening hours?",
    "Are you open on Sundays?",
    "Customer service hours",
    "Is support available 24/7?",
    "Do you have a live chat?",
    "What payment methods do you accept?",
    "Can I pay with PayPal?",
    "Do you take Apple Pay?",
    "Do you accept American Express?",
    "Can I pay in installments?",
    "Can I pay with Klarna?",
    "Can I use a gift card to pay?",
    "Is cash on delivery available?",
    "Can I pay by bank transfer?",
    "Which cards do you accept?",
    "Can I use two payment methods on one order?",
    "Where can I find my invoice?",
    "I need an invoice for order 55102",
    "Download my invoice",
    "How do I get a receipt for my purchase?",
    "Send me a copy of my bill",
    "Can I see my invoices online?",
    "I need a VAT invoice for my company",
    "Where are my bills in my account?",
    "Can you email me the invoice for #88213?",
    "I lost my receipt",
    "Invoice for A-55102 please",
    "I'd like to check my invoice",
    "How do I print an invoice?",
    "Can the invoice be in my company's name?",
    "I'd like to talk to a human",
    "Can I speak to a real person?",
    "Connect me with an agent",
    "I want an operator",
    "Let me talk to somebody",
    "Is there a person I can talk to?",
    "get me a human",
    "transfer me to a live agent",
    "I'd rather chat with a representative",
    "human please",
    "agent",
    "I need to speak with someone from your team",
    "Can a staff member help me instead of the bot?",
    "Are you a bot? I want a person",
    "put me through to customer service",
    "put me in touch with the support team",
    "How do I reach your support team by phone?",
    "Where's your store located?",
    "Do you have physical stores?",
    "Hello",
    "Hi there",
    "Can you help me?",
    "I have a question",
    "What do you sell?",
    "Do you have a catalogue?",
    "How does Acme Rewards work?",
    "How do I earn Rewards points?",
    "How many points do I have?",
    "Do you price match?",
    "Do you have student discounts?",
    "Is there a mailing address for letters?",
    "thanks",
    "ok thank you bye",
    "What time does support close today?",
    "Are you open on public holidays?",
    "support hours on weekends?",
    "how do i contact you",
    "Can someone call me back?",
    "Call me please",
    "need to talk to an actual human being",
    "speak to rep",
    "Is there anyone there?",
    "can i get an assistant on the phone",
    "Bill for my last purchase",
    "Where do I find past invoices?",
    "Can I get an itemized receipt?",
    "Do you accept crypto?",
    "Is Google Pay accepted?",
    "Can I pay with a debit card?",
    "payment options",
    "What ways can I pay?",
    "Do you offer gift receipts?",
    "I need a duplicate invoice",
    "Where can I see my billing history?",
    "Opening times of your Denver store",
    "What's the best way to get in touch?",
    "Do you have a WhatsApp number?",
    "I'd like a real human to help me",
    "is anyone from Acme able to chat with me please",
    "is a live person available",
    "i want to speak to a person not a machine",
    "get me someone who can actually help",
    "I'd like a human agent in this chat",
    "pass me to a member of staff",
    "how can I get hold of a person at Acme",
    "i need the bill for my order from 3 June",
    "show me my invoice",
    "bills - where are they downloadable?",
    "can i view the invoice for purchase 40917",
    "look up my invoice #10023",
    "what are your support hours on Saturday",
    "what forms of payment can I use",
    "do you take Mastercard",
    "Who do I write to for customer service questions?",
    "I need a phone number to call you",
    "is there a customer care line",
    "I'd like to see the payment methods you allow",
    "can you list the accepted ways to pay",
    "what payment modes do you have",
    "which payment options are available at checkout",
    "is there a page showing every way to pay at Acme?",
    "list all the ways I can pay please",
    "are there other payment options besides card",
    "what are the available payment methods at acme",
    "where can I check the payment methods you accept",
    "I want to check which ways of paying you allow",
    "need help checking your accepted payment options",
    "how do I check what payment types are available",
    "trying to check if you take my kind of payment",
    "i dont know how to see ur payment choices",
    "i need help finding my invoice",
    "could you help me view the bill from my last order",
    "I'd like to take a look at invoice #30112",
    "where is the invoice for Mr. Lopez's order",
]

INTENTS = [
    {
        "slug": "order_status",
        "name": "Order status",
        "description": (
            "The customer wants to know where an order is or what state it is in: tracking a "
            "parcel, a tracking number, whether it has shipped, its expected arrival. It does "
            "not cover changing the delivery address or reporting a lost or damaged parcel "
            "(shipping_issue), or cancelling the order (cancellation)."
        ),
        "escalation_policy": "never",
        "required_details": [
            {
                "name": "order_number",
                "question": (
                    "Could you give me your order number? It starts with A- or is a 5-digit "
                    "number on your confirmation e-mail."
                ),
            }
        ],
        "phrases": _ORDER_STATUS,
    },
    {
        "slug": "return_request",
        "name": "Return or refund",
        "description": (
            "The customer wants to send an item back, exchange it, or get money back: starting "
            "a return, return labels, the return and refund policy, and the status of a refund "
            "that has not arrived yet. It does not cover a wrong or double charge on a card "
            "(billing_dispute) or cancelling an order that has not shipped (cancellation)."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _RETURN_REQUEST,
    },
    {
        "slug": "billing_dispute",
        "name": "Billing dispute",
        "description": (
            "The customer reports a problem with a payment or a charge: a declined or failed "
            "payment, a double charge, a wrong amount, an unrecognised charge, or wants to "
            "dispute a charge. Questions about which payment methods we accept or where to "
            "find an invoice are general_inquiry; refunds for returned items are return_request."
        ),
        "escalation_policy": "always",
        "required_details": [],
        "phrases": _BILLING_DISPUTE,
    },
    {
        "slug": "product_question",
        "name": "Product question",
        "description": (
            "The customer asks about our gear before or after buying it: sizing, materials, "
            "features, stock, warranty, care and washing of jackets, tents, backpacks, boots, "
            "sleeping bags and gift cards. It does not cover a faulty device or app "
            "(technical_support) or returning a product (return_request)."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _PRODUCT_QUESTION,
    },
    {
        "slug": "complaint",
        "name": "Complaint",
        "description": (
            "The customer is unhappy with our service, staff or products and wants to complain "
            "or file a formal complaint. A specific request that can be solved directly (a "
            "refund, a late parcel, a wrong charge) belongs to its own intent; this one is for "
            "dissatisfaction and grievances as such."
        ),
        # An angry complaint goes to a person; a disappointed one is answered.
        "escalation_policy": "angry",
        "required_details": [],
        "phrases": _COMPLAINT,
    },
    {
        "slug": "cancellation",
        "name": "Cancellation",
        "description": (
            "The customer wants to cancel an order or part of it, asks about cancellation fees "
            "or the cancellation policy, or wants to delete, close or deactivate their account "
            "or Acme Rewards membership. Returning an item that has already arrived is "
            "return_request."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _CANCELLATION,
    },
    {
        "slug": "technical_support",
        "name": "Technical support",
        "description": (
            "The customer has a technical problem with our website, the Acme app or an "
            "electronic product such as the Acme Trail GPS Watch: errors, crashes, pages that "
            "do not load, syncing and firmware. Password and sign-up problems are "
            "account_access; failed payments are billing_dispute."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _TECHNICAL_SUPPORT,
    },
    {
        "slug": "account_access",
        "name": "Account access",
        "description": (
            "The customer cannot get into their account or cannot create one: forgotten "
            "password or username, reset links, locked accounts, two-step verification, and "
            "registration or sign-up problems. Closing or deleting an account is cancellation."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _ACCOUNT_ACCESS,
    },
    {
        "slug": "shipping_issue",
        "name": "Shipping and delivery",
        "description": (
            "The customer asks about delivery: how long shipping takes, delivery options and "
            "costs, international shipping, changing or setting up a shipping address, and "
            "parcels that are lost, late or damaged. Tracking a specific order's status is "
            "order_status."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _SHIPPING_ISSUE,
    },
    {
        "slug": "general_inquiry",
        "name": "General inquiry",
        "description": (
            "Anything general: how to contact customer service, opening and support hours, "
            "which payment methods we accept, finding, viewing or downloading invoices and "
            "bills, Acme Rewards basics, greetings, and asking to talk to a human agent. It is "
            "also the fallback when no other intent fits."
        ),
        "escalation_policy": "never",
        "required_details": [],
        "phrases": _GENERAL_INQUIRY,
    },
]

# ---------------------------------------------------------------------------
# Escalation signals: (phrase, category)
# ---------------------------------------------------------------------------

SIGNALS = [
    # legal
    ("legal", "legal"),
    ("lawsuit", "legal"),
    ("attorney", "legal"),
    ("lawyer", "legal"),
    ("sue", "legal"),
    ("small claims", "legal"),
    ("legal action", "legal"),
    ("solicitor", "legal"),
    ("trading standards", "legal"),
    ("consumer protection", "legal"),
    ("better business bureau", "legal"),
    ("take you to court", "legal"),
    ("see you in court", "legal"),
    # fraud
    ("fraud", "fraud"),
    ("scam", "fraud"),
    ("stolen", "fraud"),
    ("unauthorized", "fraud"),
    ("unauthorised", "fraud"),
    ("chargeback", "fraud"),
    ("identity theft", "fraud"),
    ("hacked", "fraud"),
    ("phishing", "fraud"),
    ("didn't make this purchase", "fraud"),
    # anger
    ("furious", "anger"),
    ("unacceptable", "anger"),
    ("never using again", "anger"),
    ("ridiculous", "anger"),
    ("worst service", "anger"),
    ("disgusted", "anger"),
    ("outraged", "anger"),
    ("fed up", "anger"),
    ("appalling", "anger"),
    ("pathetic", "anger"),
    ("never shopping here again", "anger"),
    # human request
    ("supervisor", "human_request"),
    ("manager", "human_request"),
    ("escalate", "human_request"),
    ("speak to a human", "human_request"),
    ("talk to a human", "human_request"),
    ("talk to a person", "human_request"),
    ("real person", "human_request"),
    ("human agent", "human_request"),
    ("live agent", "human_request"),
    ("customer service representative", "human_request"),
    ("operator", "human_request"),
    # other
    ("injured", "other"),
    ("allergic reaction", "other"),
    ("safety recall", "other"),
    ("journalist", "other"),
    ("carbon monoxide", "other"),
]

# ---------------------------------------------------------------------------
# Knowledge-base articles (Markdown bodies)
# ---------------------------------------------------------------------------


def _md(text):
    """Strip the indentation of a triple-quoted body and its surrounding blank lines."""
    return textwrap.dedent(text).strip() + "\n"


ARTICLES = [
    # ----- order_status -----
    {
        "title": "How to track your order",
        "intents": ["order_status"],
        "status": "published",
        "body": _md(
            """
            ## Where to find your tracking link

            As soon as your parcel leaves our warehouse we send a shipping confirmation
            e-mail with a tracking link. You can also track any order yourself:

            1. Sign in at https://acme-outfitters.example/account/orders
            2. Choose the order (order numbers look like A-55102 or a 5-digit number).
            3. Click **Track parcel** to open the carrier's page.

            Without an account, use https://acme-outfitters.example/track with your order
            number and the e-mail address you ordered with.

            ## When tracking does not update

            Carriers usually scan a parcel within 24 hours of collection. If the status still
            reads "Label created" after 2 business days, or has not changed for 5 business
            days, contact us at help@acme-outfitters.example and we will open an
            investigation with the carrier.
            """
        ),
    },
    {
        "title": "Order statuses explained",
        "intents": ["order_status"],
        "status": "published",
        "body": _md(
            """
            Your order page shows one of these statuses:

            - **Received**: we have your order and payment is authorised.
            - **Packing**: our warehouse team is picking your items. Orders placed before
              2 pm ET on a business day usually reach this step the same day.
            - **Shipped**: the parcel is with the carrier and a tracking link is available.
            - **Out for delivery**: the carrier expects to deliver today.
            - **Delivered**: the carrier has confirmed delivery.
            - **Awaiting stock**: one item is on backorder; we ship the rest first unless
              you asked us to hold the whole order.

            ## Split shipments

            Large items such as tents can ship from a different warehouse, so one order may
            arrive in two parcels with two tracking numbers. Each appears on the order page.

            If an order has been in **Received** for more than 2 business days, our team is
            already looking at it, but you are welcome to ask us for an update.
            """
        ),
    },
    # ----- return_request -----
    {
        "title": "Returns policy: 30-day returns",
        "intents": ["return_request"],
        "status": "published",
        "body": _md(
            """
            ## What you can return

            Returns are accepted within 30 days of delivery. Items must be unused, clean and
            in their original packaging with tags attached. Tents may be returned if they
            were pitched once indoors to try them out.

            ## What you cannot return

            - Gift cards
            - Personalised or embroidered items
            - Worn footwear, unless it is faulty
            - Items marked **Final sale**

            ## Faulty gear

            Items with a manufacturing fault are covered by our 2-year warranty, whatever the
            date of purchase within that period. Start a warranty claim from the returns
            page and attach a photo of the fault.

            ## Cost of returning

            Returns are free for Acme Rewards members. For everyone else, $6.95 is deducted
            from the refund for the prepaid label. Full details:
            https://acme-outfitters.example/returns
            """
        ),
    },
    {
        "title": "How to start a return and print your label",
        "intents": ["return_request"],
        "status": "published",
        "body": _md(
            """
            1. Go to https://acme-outfitters.example/returns and enter your order number and
               e-mail address.
            2. Select the items you want to send back and a reason for each.
            3. Choose a refund to your original payment method or Acme store credit (store
               credit is issued instantly once the parcel is scanned).
            4. Print the prepaid label, or show the QR code at any UPS Access Point if you
               have no printer.
            5. Pack the items securely and drop the parcel off within 14 days.

            ## Exchanges

            To exchange for another size or colour, choose **Exchange** in step 3. We ship
            the replacement as soon as the carrier scans your return, so you do not wait for
            it to reach us.

            ## Bought in a store?

            Store purchases can be returned by mail with the same label, or at any Acme
            Outfitters store with your receipt.
            """
        ),
    },
    {
        "title": "Refund timelines and tracking your refund",
        "intents": ["return_request", "billing_dispute"],
        "status": "published",
        "body": _md(
            """
            ## How long a refund takes

            Once your return reaches our warehouse we inspect it within 3 business days and
            send you an e-mail when the refund is issued. Your bank then takes 5-10 business
            days to show it on your statement. PayPal refunds usually appear within 2
            business days.

            ## Where the money goes

            - Card, PayPal, Apple Pay and Google Pay: back to the same account.
            - Klarna: Klarna adjusts or cancels your remaining instalments.
            - Gift card: the amount is reloaded onto a new e-gift card.

            Original shipping charges are refunded only if the item was faulty or we sent
            the wrong item.

            ## Tracking a refund

            Open the return on https://acme-outfitters.example/returns to see its status:
            **In transit**, **Received**, **Inspected** or **Refunded**. If it shows
            Refunded and 10 business days have passed with nothing on your statement, write
            to help@acme-outfitters.example with the return number.
            """
        ),
    },
    # ----- billing_dispute -----
    {
        "title": "Double charges, wrong amounts and disputed charges",
        "intents": ["billing_dispute"],
        "status": "published",
        "body": _md(
            """
            ## Pending authorisations are not charges

            When you place an order your bank places a temporary hold for the order total.
            If a payment attempt fails and you try again, you may briefly see two holds; the
            unused one is released by your bank within 3-5 business days.

            ## If you were really charged twice or the amount is wrong

            Our billing team reviews every billing dispute personally. To speed things up,
            have ready:

            - your order number
            - the date and amount of each charge as shown on your statement
            - the last 4 digits of the card used

            We answer billing disputes within 1 business day and return any amount taken in
            error to the original payment method.

            ## Unrecognised charge

            Acme Outfitters charges appear as **ACME OUTFITTERS** or **ACME OUTFIT*WEB** on
            statements. If you do not recognise a charge, tell us before opening a chargeback
            with your bank so we can look into it first.
            """
        ),
    },
    {
        "title": "Why was my payment declined?",
        "intents": ["billing_dispute"],
        "status": "published",
        "body": _md(
            """
            A declined payment almost always comes from the card issuer or the payment
            provider, not from our shop. Check these points first:

            1. The billing address matches the one your bank has on file, including the ZIP
               code.
            2. The card has not expired and the security code is correct.
            3. Your bank has not blocked the payment as unusual; many banks send an app
               notification you need to approve.
            4. The order does not exceed your daily card limit.
            5. For Klarna, the order total is between $50 and $1,000.

            ## Still failing?

            Try another payment method such as PayPal, Apple Pay or Google Pay. If money left
            your account but no order confirmation arrived, do not order again: contact us at
            help@acme-outfitters.example or +1 800 555 0142 and a member of the billing team
            will check the payment for you.
            """
        ),
    },
    # ----- complaint -----
    {
        "title": "How to make a complaint",
        "intents": ["complaint"],
        "status": "published",
        "body": _md(
            """
            We are sorry when something goes wrong, and we want to hear about it.

            ## How to reach us

            - Chat: tell this assistant you want to make a complaint and a member of our
              customer care team will take over.
            - E-mail: help@acme-outfitters.example with "Complaint" in the subject line.
            - Phone: +1 800 555 0142, Monday-Friday 8:00-20:00 ET, Saturday-Sunday
              9:00-17:00 ET.

            ## What happens next

            1. We acknowledge every complaint within 1 business day.
            2. A named case owner investigates and keeps you updated.
            3. We aim to resolve complaints within 7 business days.

            Please include your order number if the complaint is about an order, and photos
            if it is about the quality of a product.
            """
        ),
    },
    {
        "title": "Our customer care promise",
        "intents": ["complaint", "general_inquiry"],
        "status": "published",
        "body": _md(
            """
            Every Acme Outfitters customer can expect:

            - **A reply within 1 business day** to every e-mail, and within a few minutes in
              chat during support hours.
            - **One owner for your case**, so you never have to repeat your story.
            - **A 2-year warranty** on everything we sell, and a free repair or replacement
              for manufacturing faults.
            - **Honest answers**: if we got something wrong we say so and put it right.

            ## If you are not happy with our answer

            Ask for your case to be reviewed by the customer care team lead. Reviews are
            completed within 5 business days and you receive a written outcome.

            We read every complaint and share a monthly summary with our product and
            warehouse teams, so your feedback leads to real changes.
            """
        ),
    },
    # ----- cancellation -----
    {
        "title": "Cancelling an order and cancellation fees",
        "intents": ["cancellation"],
        "status": "published",
        "body": _md(
            """
            ## Before the order ships

            You can cancel an order free of charge while its status is **Received** or
            **Packing**:

            1. Sign in at https://acme-outfitters.example/account/orders
            2. Open the order and click **Cancel order** (or cancel single items).
            3. You receive a cancellation e-mail straight away.

            Guest orders can be cancelled by replying to the order confirmation e-mail.

            ## Cancellation fees

            There is no cancellation fee on standard orders. Personalised or embroidered
            items carry a 15% cancellation fee once production has started.

            ## After the order ships

            A shipped order can no longer be cancelled. Refuse the delivery or return it
            within 30 days under our returns policy instead.

            Refunds for cancelled orders are issued immediately; your bank shows them within
            5-10 business days.
            """
        ),
    },
    {
        "title": "Closing or deleting your Acme account",
        "intents": ["cancellation", "account_access"],
        "status": "published",
        "body": _md(
            """
            You can delete your account at any time, free of charge.

            ## How to delete it

            1. Sign in and go to **Account settings > Privacy**.
            2. Click **Delete my account** and confirm with your password.
            3. We send a confirmation e-mail; the account is closed after a 14-day grace
               period, during which signing in again cancels the deletion.

            ## What deleting removes

            - Your profile, saved addresses and wishlist
            - Your Acme Rewards points and tier, which cannot be restored
            - Marketing preferences

            We keep order and invoice records for 7 years because tax law requires it.

            If you cannot sign in, e-mail help@acme-outfitters.example from the address on
            the account and we will delete it for you within 30 days.
            """
        ),
    },
    # ----- account_access -----
    {
        "title": "Resetting a forgotten password",
        "intents": ["account_access"],
        "status": "published",
        "body": _md(
            """
            1. Go to https://acme-outfitters.example/login and click **Forgot password?**
            2. Enter the e-mail address on your account.
            3. Open the reset e-mail and choose a new password. The link is valid for 60
               minutes.

            ## The e-mail did not arrive

            - Check your spam or promotions folder.
            - Make sure you used the address you registered with; try any other address you
              own.
            - Wait 5 minutes before asking for another link: each new link cancels the last.

            ## Locked account

            After 5 wrong passwords the account is locked for 30 minutes for your security.
            Wait, then reset your password.

            ## Password rules

            Passwords need at least 10 characters. Long passphrases are welcome.

            If you no longer have access to the e-mail address, contact us from the phone
            number on your account at +1 800 555 0142.
            """
        ),
    },
    {
        "title": "Problems signing up or registering",
        "intents": ["account_access"],
        "status": "published",
        "body": _md(
            """
            ## "This e-mail is already in use"

            You or someone in your household has an account with that address, perhaps from
            a store purchase or Acme Rewards sign-up. Use **Forgot password?** to get in.

            ## The verification e-mail never came

            New accounts must be confirmed within 48 hours. Check spam, then ask for a new
            link from https://acme-outfitters.example/verify. Company mail filters sometimes
            block it; a personal address usually works.

            ## The form shows an error

            - Phone numbers must include the country code, for example +1 for the US.
            - You must be at least 16 to register.
            - Disable autofill if it puts your address in the wrong fields.

            If registration still fails, tell us the exact error message and the browser you
            use, and we will set the account up for you.
            """
        ),
    },
    {
        "title": "Two-step verification and locked accounts",
        "intents": ["account_access"],
        "status": "published",
        "body": _md(
            """
            Two-step verification adds a 6-digit code to your sign-in.

            ## The code is not arriving

            - SMS codes can take up to 2 minutes. Request a new one only after that.
            - Check that the time on your phone is set automatically; authenticator codes
              fail when the clock is wrong.

            ## Lost phone

            Use one of the 10 backup codes you saved when you switched on two-step
            verification. Each works once. Without backup codes, contact us at
            help@acme-outfitters.example from the e-mail on the account; for your security
            we verify your identity with a recent order number before switching it off.

            ## Suspended account

            We suspend accounts after suspicious sign-in attempts. Reset your password from
            the link we e-mail you to lift the suspension.
            """
        ),
    },
    # ----- technical_support -----
    {
        "title": "Acme app: sign-in errors and crashes",
        "intents": ["technical_support", "account_access"],
        "status": "published",
        "body": _md(
            """
            The Acme app runs on iOS 16 or later and Android 11 or later.

            ## The app crashes or freezes

            1. Update the app from the App Store or Google Play; we fix crashes quickly.
            2. Restart your phone.
            3. On Android, clear the app cache under **Settings > Apps > Acme > Storage**.
            4. Uninstall and reinstall. Your orders and points are stored in your account,
               not on the phone.

            ## "Something went wrong" when signing in

            This usually means the session expired. Sign out, close the app, and sign in
            again. If it persists, check that the date and time on your phone are correct.

            ## Reporting a bug

            Go to **Profile > Help > Report a problem**; the report includes the app version
            and phone model, which helps our developers find the cause.
            """
        ),
    },
    {
        "title": "Website checkout errors",
        "intents": ["technical_support"],
        "status": "published",
        "body": _md(
            """
            If the checkout page shows an error, sends you back to the cart or does not load:

            - Refresh the page once. Do not press **Place order** repeatedly.
            - Make sure your browser is up to date. We support the last two versions of
              Chrome, Safari, Firefox and Edge.
            - Switch off ad blockers and privacy extensions for acme-outfitters.example; some
              block the address lookup and the payment form.
            - Clear cookies for our site or try a private window.

            ## Error codes

            - **Error 403**: your session expired. Sign in again.
            - **Error 500**: a temporary fault on our side. Wait a few minutes and retry.
            - **"Address could not be verified"**: check the ZIP code and house number.

            Live service status is published at https://acme-outfitters.example/status. If
            a payment was taken but you got an error, contact us before ordering again.
            """
        ),
    },
    {
        "title": "Acme Trail GPS Watch: syncing and firmware",
        "intents": ["technical_support", "product_question"],
        "status": "published",
        "body": _md(
            """
            The Acme Trail GPS Watch syncs activities and routes with the Acme Trail app over
            Bluetooth.

            ## Watch will not sync

            1. Turn Bluetooth on and keep the phone within 3 metres of the watch.
            2. Open the Acme Trail app and pull down on the activity list to sync.
            3. If you see **error E12**, remove the watch in the app, forget it in your
               phone's Bluetooth settings, then pair it again.

            ## Updating the firmware

            Put the watch on its charger and open the app; new firmware installs
            automatically and takes about 10 minutes. Keep the app open until it finishes.

            ## Factory reset

            Hold the top and bottom buttons for 15 seconds. This erases activities that have
            not synced yet.

            ## Battery

            Up to 14 days in smartwatch mode and 30 hours with GPS recording.
            """
        ),
    },
    # ----- shipping_issue -----
    {
        "title": "Shipping options, costs and delivery times",
        "intents": ["shipping_issue"],
        "status": "published",
        "body": _md(
            """
            | option | delivery time | cost |
            | --- | --- | --- |
            | Standard | 3-5 business days | $5.95, free over $75 |
            | Express | 1-2 business days | $14.95 |
            | Store pickup | ready in 2 hours | free |

            Orders placed before 2 pm ET on a business day leave our warehouse the same day.
            Delivery times start when the order ships.

            ## Good to know

            - We ship to all 50 states, PO boxes (standard only) and APO/FPO addresses.
            - Alaska and Hawaii: add 2-4 business days.
            - Express does not deliver on Sundays or public holidays.
            - You can upgrade to express until the order status changes to **Packing**.

            Full details: https://acme-outfitters.example/shipping
            """
        ),
    },
    {
        "title": "Changing or adding a shipping address",
        "intents": ["shipping_issue"],
        "status": "published",
        "body": _md(
            """
            ## Saved addresses

            Manage your address book at **Account > Addresses**: add as many shipping
            addresses as you like, edit them, and mark one as your default. You can ship to
            an address different from your billing address.

            ## Changing the address on an order

            - Status **Received**: click **Change address** on the order page.
            - Status **Packing**: contact us quickly at help@acme-outfitters.example or
              +1 800 555 0142; we can usually still change it.
            - Status **Shipped**: we cannot change the address, but you can redirect the
              parcel to another address or a pickup point from the carrier's tracking page.

            ## Typos in the address

            A missing house number or a wrong ZIP code can make the carrier return the parcel
            to us. If that happens we contact you and reship it free of charge.
            """
        ),
    },
    {
        "title": "Lost, late or damaged parcels",
        "intents": ["shipping_issue"],
        "status": "published",
        "body": _md(
            """
            ## Late parcel

            If your parcel is more than 3 business days past its expected date, let us know
            and we open a trace with the carrier.

            ## Marked delivered but not received

            1. Check around your property, with neighbours and at your building's mailroom.
            2. Wait 48 hours; carriers sometimes mark parcels delivered early.
            3. Then contact us and we will open a claim.

            ## Lost parcel

            When the carrier confirms a parcel is lost, we send a replacement by express or
            refund you in full, whichever you prefer.

            ## Damaged on arrival

            Take photos of the box and the items within 7 days of delivery and send them to
            help@acme-outfitters.example with your order number. We ship a replacement right
            away; there is no need to return damaged goods unless we ask.

            All our parcels are insured, so none of this costs you anything.
            """
        ),
    },
    {
        "title": "International shipping and customs",
        "intents": ["shipping_issue"],
        "status": "published",
        "body": _md(
            """
            We ship to Canada, the United Kingdom, the European Union, Norway, Switzerland,
            Australia and New Zealand.

            | destination | delivery time | cost |
            | --- | --- | --- |
            | Canada | 5-8 business days | $14.95, free over $150 |
            | UK and EU | 7-12 business days | $24.95 |
            | Australia and New Zealand | 8-14 business days | $29.95 |

            ## Duties and taxes

            For the UK and EU, duties and VAT are included in the price you pay at checkout,
            so there is nothing to pay on delivery. For other countries, local duties may be
            charged by the carrier before delivery.

            ## Stuck in customs

            Customs checks usually take 1-3 business days. If your parcel has been held for
            longer, send us your order number and we will contact the carrier's customs team.
            """
        ),
    },
    # ----- product_question -----
    {
        "title": "Trailblazer 3 Tent: specs, setup and care",
        "intents": ["product_question"],
        "status": "published",
        "body": _md(
            """
            The Trailblazer 3 Tent is a freestanding three-season tent for three people.

            ## Specs

            - Floor: 220 x 180 cm, peak height 110 cm, two doors and two vestibules
            - Weight: 2.4 kg packed, 2.1 kg minimum trail weight
            - Packed size: 50 x 18 cm
            - Fly: 20D ripstop nylon, 3,000 mm waterproof, PFAS-free coating
            - Poles: two aluminium hubbed poles plus one brow pole
            - Footprint sold separately ($39.95)

            ## Setup

            Stake out the corners, clip the inner to the hubbed poles, then fit the fly with
            the colour-coded buckles. First pitch takes about 10 minutes.

            ## Care

            Dry the tent fully before storing it loose, never compressed. Clean with water
            and a sponge only. Replacement poles and stakes are available from customer
            service.
            """
        ),
    },
    {
        "title": "Summit Down Jacket: sizing, fill and washing",
        "intents": ["product_question"],
        "status": "published",
        "body": _md(
            """
            The Summit Down Jacket is our warmest jacket, made for cold, dry days down to
            about -20 C when layered.

            ## Materials

            - 800 fill power responsibly sourced down (RDS certified)
            - Windproof 15D nylon shell with a water-repellent finish
            - Adjustable hood, two hand pockets and one inner zip pocket

            ## Sizing

            Men's XS-XXL and women's XS-XL. It fits true to size with room for a fleece
            underneath. Between sizes? Choose the larger one if you layer heavily. Size
            charts: https://acme-outfitters.example/size-guide

            ## Washing

            1. Close all zips and wash on a gentle cycle at 30 C with a down wash.
            2. Rinse twice.
            3. Tumble dry on low with two or three clean tennis balls until no clumps remain.

            Do not dry-clean it and do not use fabric softener.
            """
        ),
    },
    {
        "title": "Ridgeline 45L Backpack: fit and features",
        "intents": ["product_question"],
        "status": "published",
        "body": _md(
            """
            The Ridgeline 45L Backpack is built for 2-4 day trips.

            ## Fit

            - Adjustable back system for torso lengths of 40-53 cm
            - Women's version with a shorter torso range and shaped hip belt
            - Hip belt pads and shoulder straps can be replaced if they wear out

            ## Features

            - Weight 1.45 kg, carries up to 18 kg comfortably
            - Hydration sleeve for a 3-litre reservoir
            - Top lid, front stretch pocket, two hip-belt pockets
            - Integrated rain cover in the base
            - Fits a 15-inch laptop in the hydration sleeve for travel

            ## 45L or 60L?

            The Ridgeline 60L adds 15 litres and a removable lid that turns into a day pack;
            choose it for trips longer than 4 days or for winter gear.

            The pack body is water resistant but not waterproof, so use the rain cover in
            wet weather.
            """
        ),
    },
    {
        "title": "Alpine GTX Hiking Boots: sizing and break-in",
        "intents": ["product_question"],
        "status": "published",
        "body": _md(
            """
            The Alpine GTX Hiking Boots are waterproof, mid-cut boots for rough trails.

            ## Sizing

            - US men's 7-14 and women's 5-11, half sizes included
            - Regular and wide fit
            - They fit true to size; if you wear thick wool socks, go half a size up

            ## Materials

            - Nubuck leather upper with a GORE-TEX waterproof lining
            - Vibram outsole and a stiff midsole that accepts strap-on crampons
            - Not vegan, as the upper is leather

            ## Breaking in

            Wear them around the house and on short walks for a week before a long hike.

            ## Care

            Brush off mud after every hike, rinse with clean water, and let the boots dry at
            room temperature away from heaters. Re-proof the leather twice a season.
            """
        ),
    },
    {
        "title": "Cascade 20 Sleeping Bag: temperature ratings and care",
        "intents": ["product_question"],
        "status": "published",
        "body": _md(
            """
            The Cascade 20 Sleeping Bag is a three-season synthetic bag.

            ## Temperature ratings (ISO 23537)

            - Comfort: 30 F (-1 C)
            - Limit: 20 F (-7 C)
            - Extreme: 0 F (-18 C), survival only

            For winter camping below freezing, choose the Cascade 0 instead.

            ## Features

            - Weight 1.3 kg, packed size 22 x 35 cm with the included compression sack
            - Roomy cut that suits side sleepers
            - Left and right zip versions can be zipped together

            ## Care

            Store it loose in the cotton storage sack provided, never compressed. Wash in a
            front-loading machine at 30 C with a mild detergent and tumble dry on low.
            """
        ),
    },
    {
        "title": "Acme Gift Cards",
        "intents": ["product_question", "general_inquiry"],
        "status": "published",
        "body": _md(
            """
            Acme Gift Cards are the easy way to give gear.

            - Any amount from $25 to $500.
            - **E-gift cards** arrive by e-mail within 1 hour, or on a date you choose.
            - **Physical cards** ship free with standard shipping in a gift envelope.
            - Gift cards never expire and have no fees.
            - Use them online and in all Acme Outfitters stores; you can combine a gift card
              with another payment method.

            ## Check your balance

            Enter the card number and PIN at https://acme-outfitters.example/gift-cards.

            ## Lost card

            We can replace a registered card with its remaining balance. Gift cards cannot
            be returned or exchanged for cash.
            """
        ),
    },
    # ----- general_inquiry -----
    {
        "title": "Contact us: phone, e-mail and support hours",
        "intents": ["general_inquiry"],
        "status": "published",
        "body": _md(
            """
            ## Talk to our team

            - **Chat**: this assistant answers 24/7. Ask for a person at any time and a
              member of our team takes over during support hours.
            - **Phone**: +1 800 555 0142
            - **E-mail**: help@acme-outfitters.example, answered within 1 business day

            ## Support hours (Eastern Time)

            | day | hours |
            | --- | --- |
            | Monday-Friday | 8:00-20:00 |
            | Saturday-Sunday | 9:00-17:00 |
            | Public holidays | closed |

            Outside these hours, leave a message in chat or by e-mail and we reply the next
            morning.

            ## Postal address

            Acme Outfitters Customer Care, PO Box 4410, Denver, CO 80202
            """
        ),
    },
    {
        "title": "Payment methods we accept",
        "intents": ["general_inquiry", "billing_dispute"],
        "status": "published",
        "body": _md(
            """
            You can pay for online orders with:

            - Visa, Mastercard, American Express and Discover (credit and debit)
            - PayPal
            - Apple Pay and Google Pay
            - Klarna: 4 interest-free payments on orders from $50 to $1,000
            - Acme Gift Cards, alone or combined with one other method

            We do not accept cash on delivery, bank transfers, cheques or cryptocurrency.

            ## When you are charged

            Your card is authorised when you order and charged when the order ships. For
            split shipments, each parcel is charged separately.

            ## Currency

            Prices are in US dollars. UK and EU customers see and pay prices in GBP or EUR
            at checkout.

            For a failed or wrong payment, see "Why was my payment declined?" or ask us to
            check it.
            """
        ),
    },
    {
        "title": "Finding and downloading invoices",
        "intents": ["general_inquiry"],
        "status": "published",
        "body": _md(
            """
            Every order has an invoice you can view and download as a PDF.

            ## Online orders

            1. Sign in at https://acme-outfitters.example/account/orders
            2. Open the order.
            3. Click **Download invoice**.

            Invoices are available as soon as the order ships. For split shipments there is
            one invoice per parcel.

            ## Guest orders and store purchases

            Guest orders: use the invoice link in the shipping confirmation e-mail. Store
            purchases: ask us for a copy with the date, store and the last 4 digits of the
            card used.

            ## Company invoices

            To put a company name and VAT or tax number on an invoice, add them under
            **Account > Billing details** before ordering, or e-mail
            help@acme-outfitters.example within 30 days of the order and we will reissue it.
            """
        ),
    },
    {
        "title": "Acme Rewards loyalty program",
        "intents": ["general_inquiry", "cancellation"],
        "status": "published",
        "body": _md(
            """
            Acme Rewards is free to join at https://acme-outfitters.example/rewards.

            ## Earning points

            - 1 point for every $1 spent online or in store
            - 100 bonus points for your first order and on your birthday
            - Every 500 points becomes a $10 reward, valid for 12 months

            ## Tiers

            | tier | qualifying spend per year | benefits |
            | --- | --- | --- |
            | Base Camp | $0 | free returns, member prices |
            | Trailhead | $500 | free express upgrade twice a year |
            | Summit | $1,000 | free express shipping, early access to sales |

            ## Rewards Plus

            Rewards Plus costs $49 a year and includes free express shipping on every order.
            Cancel it any time in **Account > Rewards**; cancelling within the first 30 days
            gives a full refund, later there is no fee but no refund for the current year.
            """
        ),
    },
    {
        "title": "Store locations and opening hours",
        "intents": ["general_inquiry"],
        "status": "published",
        "body": _md(
            """
            Visit us to try on boots, pitch a tent, or pick up an online order.

            | store | opening hours |
            | --- | --- |
            | Denver, CO (flagship) | Mon-Sat 9:00-21:00, Sun 10:00-18:00 |
            | Portland, OR | Mon-Sat 10:00-20:00, Sun 11:00-17:00 |
            | Salt Lake City, UT | Mon-Sat 10:00-20:00, Sun 11:00-17:00 |

            All stores are closed on Thanksgiving and Christmas Day.

            ## In-store services

            - Free store pickup: orders are ready in 2 hours
            - Boot fitting by trained staff
            - Returns of online orders with your order number

            Addresses and holiday hours: https://acme-outfitters.example/stores
            """
        ),
    },
    # ----- drafts -----
    {
        "title": "Holiday shipping deadlines",
        "intents": ["shipping_issue"],
        "status": "draft",
        "body": _md(
            """
            Want your gifts before December 25? Order by these dates (US addresses):

            | option | order by |
            | --- | --- |
            | Standard | December 17 |
            | Express | December 21, 2 pm ET |
            | Store pickup | December 24, 12 pm local time |

            International orders should be placed by December 10.

            E-gift cards can be sent up to the last minute and scheduled for delivery on
            Christmas morning.

            ## Extended holiday returns

            Items bought between November 1 and December 24 can be returned until January 31.

            *Draft: dates to be confirmed with the warehouse and carriers before
            publishing.*
            """
        ),
    },
    {
        "title": "Repairing outdoor gear with Acme Repair",
        "intents": ["product_question", "return_request"],
        "status": "draft",
        "body": _md(
            """
            Before you replace a well-loved piece of gear, let us repair it.

            ## What we repair

            - Torn tent flies and broken tent poles
            - Broken zips on jackets, sleeping bags and backpacks
            - Delaminated soles on hiking boots (resoling from $79)
            - Holes in down jackets, with a matching patch

            ## How it works

            1. Start a repair at https://acme-outfitters.example/repair and describe the
               damage with a photo.
            2. We send a free shipping label.
            3. Repairs take 2-3 weeks. Faults covered by the 2-year warranty are repaired
               free; otherwise we send you a quote before starting.

            *Draft: repair prices still being finalised.*
            """
        ),
    },
]
